//! Limits every part of the server shares.

/// Request bodies larger than this get 413: nothing we accept is near it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A secret scanning alert may carry up to 1,000 findings, each with the URL
/// where it was found: far more than the shared limit, so alerts get their own.
pub const MAX_ALERT_BYTES: usize = 1024 * 1024;
