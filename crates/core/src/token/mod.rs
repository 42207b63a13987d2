//! The token engine: how a deployment token looks, how it is checked offline,
//! how it is turned into the digest we store, and how it is shown masked.

mod digest;
mod format;
mod source;
mod status;

pub use digest::{
    SaltError, TokenDigest, TokenSalt, SALT_ENV, SALT_FILE_ENV, SALT_MIN_LEN, SALT_PREVIOUS_ENV, SALT_PREVIOUS_FILE_ENV,
};
pub use format::{parse, MalformedToken, ParsedToken, PlainToken, TokenKind, SESSION_PREFIX, TOKEN_LEN};
pub use source::TokenSource;
pub use status::{RevokedReason, TokenSecrets, TokenStatus};
