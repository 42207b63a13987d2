//! The full records of tokens in use, with the answers rendered from them
//! (`GET /v1/token`, introspection), by token id: what a request needs
//! beyond its verdict. Bounded apart from the verdicts, and dropped on the
//! same changes, so a hot token's answers are rendered once.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use gatepass_core::id::TokenId;
use gatepass_store::TokenRecord;
use quick_cache::DefaultHashBuilder;

use super::coherent::CoherentCache;

/// Token records (with answers) kept at most, by default.
pub const DEFAULT_CAPACITY: usize = 250_000;

/// A token's record and, once rendered, its answers.
#[derive(Debug)]
pub struct TokenAnswers {
    pub record: TokenRecord,
    /// `GET /v1/token`'s body, without its last-used time (which is the
    /// time of the request asking).
    pub whoami: OnceLock<SplitAnswer>,
    /// `POST /v1/introspect`'s body for an active token.
    pub introspection: OnceLock<Bytes>,
}

impl TokenAnswers {
    pub fn new(record: TokenRecord) -> Self {
        Self { record, whoami: OnceLock::new(), introspection: OnceLock::new() }
    }
}

/// Token ids are made by the server, so a fast seeded hash (foldhash,
/// quick_cache's own) serves: nobody can choose keys to collide.
pub type AnswerCache = CoherentCache<TokenId, Arc<TokenAnswers>, DefaultHashBuilder>;

/// A rendered answer with a gap where a value known only per request goes:
/// one allocation, so an answer costs one pointer to follow.
#[derive(Debug)]
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

    /// The answer with `pieces`, one after the other, in its gap.
    pub fn fill(&self, pieces: &[&[u8]]) -> Vec<u8> {
        let (before, after) = self.rendered.split_at(self.gap);
        let mut body = Vec::with_capacity(self.rendered.len() + pieces.iter().map(|piece| piece.len()).sum::<usize>());
        body.extend_from_slice(before);
        for piece in pieces {
            body.extend_from_slice(piece);
        }
        body.extend_from_slice(after);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::SplitAnswer;

    #[test]
    fn a_split_answer_is_filled_where_its_marker_was() {
        let answer = SplitAnswer::cut(br#"{"a":1,"used":"MARK","b":2}"#, b"\"MARK\"").unwrap();
        assert_eq!(answer.fill(&[b"\"", b"now", b"\""]), br#"{"a":1,"used":"now","b":2}"#);
        assert!(SplitAnswer::cut(b"{}", b"MARK").is_none());
    }
}
