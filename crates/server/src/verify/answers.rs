//! The full records of tokens in use, with their verdicts and the answers
//! rendered from them (`GET /v1/token`, introspection), by digest: what a
//! request needs beyond its verdict. Bounded apart from the verdicts, and
//! dropped on the same changes, so a hot token's answers are rendered once.
//!
//! Verification looks here first: a token whose answers are cached is
//! decided from the same entry its answers come from, so a request that
//! answers with its token's record (whoami, an audit event naming it) costs
//! one cache lookup, not two, however many tokens are in use.

use std::hash::BuildHasherDefault;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use gatepass_core::token::TokenDigest;
use gatepass_store::TokenRecord;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::cache::{CachedToken, DigestHasher};
use super::coherent::CoherentCache;
use crate::last_used::{KeptUse, LastUsed};

/// Token records (with answers) kept at most, by default.
pub const DEFAULT_CAPACITY: usize = 250_000;

/// A token's verdict under one digest, its record and, once rendered, its
/// answers. In this order (`repr(C)`), so what a request reads of a cached
/// token (verdict, kept use, answers) shares a few cache lines.
#[derive(Debug)]
#[repr(C)]
pub struct TokenAnswers {
    pub verdict: CachedToken,
    /// Its latest use, until it is handed over to `last_used` (before each
    /// flush, and when this entry is dropped).
    pub used: KeptUse,
    /// `GET /v1/token`'s body, without its last-used time (which is the
    /// time of the request asking).
    pub whoami: OnceLock<SplitAnswer>,
    /// `POST /v1/introspect`'s body for an active token.
    pub introspection: OnceLock<Bytes>,
    pub record: TokenRecord,
    last_used: Arc<LastUsed>,
}

/// An entry dropped (evicted, invalidated, or released by the last request
/// holding it) hands over the use it kept, so none is lost.
impl Drop for TokenAnswers {
    fn drop(&mut self) {
        self.last_used.hand_over(self.record.id, &self.used);
    }
}

/// Equal when they say the same; the use it keeps is bookkeeping.
impl PartialEq for TokenAnswers {
    fn eq(&self, other: &Self) -> bool {
        self.verdict == other.verdict
            && self.record == other.record
            && self.whoami == other.whoami
            && self.introspection == other.introspection
    }
}

impl Eq for TokenAnswers {}

impl TokenAnswers {
    /// What `record` answers when presented under `digest`; its uses go to
    /// `last_used`.
    pub fn new(record: TokenRecord, digest: &TokenDigest, last_used: Arc<LastUsed>) -> Self {
        Self {
            verdict: CachedToken::of(&record, digest),
            used: KeptUse::default(),
            record,
            whoami: OnceLock::new(),
            introspection: OnceLock::new(),
            last_used,
        }
    }

    /// Starts loading `GET /v1/token`'s answer, if rendered, into the
    /// CPU's cache (see [`SplitAnswer::prefetch`]): a request decided from
    /// these answers most often answers with it.
    #[inline]
    pub fn prefetch_whoami(&self) {
        if let Some(answer) = self.whoami.get() {
            answer.prefetch();
        }
    }
}

/// Keyed like the verdicts, by digest.
pub type AnswerCache = CoherentCache<TokenDigest, Arc<TokenAnswers>, BuildHasherDefault<DigestHasher>>;

/// A rendered answer with a gap where a value known only per request goes:
/// one allocation, so an answer costs one pointer to follow.
#[derive(Debug, PartialEq, Eq)]
pub struct SplitAnswer {
    rendered: Bytes,
    gap: usize,
}

impl SplitAnswer {
    /// `rendered` with `marker` taken out, or `None` if it has no `marker`.
    pub fn cut(rendered: &[u8], marker: &[u8]) -> Option<Self> {
        let gap = rendered.windows(marker.len()).position(|window| window == marker)?;
        let mut kept = Vec::with_capacity(rendered.len() - marker.len());
        kept.extend_from_slice(&rendered[..gap]);
        kept.extend_from_slice(&rendered[gap + marker.len()..]);
        Some(Self { rendered: kept.into(), gap })
    }

    /// The answer with `at` (to the second, as an RFC 3339 JSON string) in
    /// its gap, written straight into the body.
    pub fn fill_with_time(&self, at: OffsetDateTime) -> Result<Vec<u8>, time::error::Format> {
        /// `"2026-12-02T13:05:55Z"`, quotes included.
        const TIME_LEN: usize = 22;
        let at = at.replace_nanosecond(0).unwrap_or(at);
        let (before, after) = self.rendered.split_at(self.gap);
        let mut body = Vec::with_capacity(self.rendered.len() + TIME_LEN);
        body.extend_from_slice(before);
        // An RFC 3339 time is a JSON string without anything to escape.
        body.push(b'"');
        at.format_into(&mut body, &Rfc3339)?;
        body.push(b'"');
        body.extend_from_slice(after);
        Ok(body)
    }

    /// Starts loading the answer's bytes into the CPU's cache without
    /// waiting for them, so that filling it, a little later, finds them
    /// there. With traffic spread over many tokens an answer is rarely
    /// cached by the CPU, and its lines would otherwise be waited for one
    /// after the other at the end of the request.
    #[inline]
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        for line in self.rendered.chunks(CACHE_LINE) {
            // SAFETY: a prefetch is a hint: it reads nothing the program
            // sees and never faults, whatever the address.
            #[allow(unsafe_code)]
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast())
            };
        }
    }
}

/// The CPU's cache line, in bytes (x86-64).
#[cfg(target_arch = "x86_64")]
const CACHE_LINE: usize = 64;

#[cfg(test)]
mod tests {
    use super::SplitAnswer;

    #[test]
    fn a_split_answer_is_filled_where_its_marker_was() {
        let answer = SplitAnswer::cut(br#"{"a":1,"used":"MARK","b":2}"#, b"\"MARK\"").unwrap();
        let at = time::macros::datetime!(2026-12-02 13:05:55.75 UTC);
        assert_eq!(answer.fill_with_time(at).unwrap(), br#"{"a":1,"used":"2026-12-02T13:05:55Z","b":2}"#);
        assert!(SplitAnswer::cut(b"{}", b"MARK").is_none());
    }
}
