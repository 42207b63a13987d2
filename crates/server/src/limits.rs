//! Limits every part of the server shares.

/// Request bodies larger than this get 413: nothing we accept is near it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
