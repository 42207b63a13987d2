//! The full records of tokens in use, with the answers rendered from them
//! (`GET /v1/token`, introspection), by token id: what a request needs
//! beyond its verdict. Bounded apart from the verdicts, and dropped on the
//! same changes, so a hot token's answers are rendered once.

use std::hash::RandomState;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use gatepass_core::id::TokenId;
use gatepass_store::TokenRecord;

use super::coherent::CoherentCache;

/// Token records (with answers) kept at most, by default.
pub const DEFAULT_CAPACITY: usize = 250_000;

/// A token's record and, once rendered, its answers.
#[derive(Debug)]
pub struct TokenAnswers {
    pub record: TokenRecord,
    /// `GET /v1/token`'s body, split around its last-used time (which is
    /// the time of the request asking).
    pub whoami: OnceLock<(Bytes, Bytes)>,
    /// `POST /v1/introspect`'s body for an active token.
    pub introspection: OnceLock<Bytes>,
}

impl TokenAnswers {
    pub fn new(record: TokenRecord) -> Self {
        Self { record, whoami: OnceLock::new(), introspection: OnceLock::new() }
    }
}

pub type AnswerCache = CoherentCache<TokenId, Arc<TokenAnswers>, RandomState>;
