//! Token format: `<type prefix><30 random base62><6 base62 of CRC32(random)>`.
//!
//! Modelled on GitHub's tokens: the prefix tells a secret scanner what it
//! found, and the checksum lets it (and us) reject almost every false positive
//! without a database lookup.

use std::fmt;

use crate::base62;

// WARNING: secret scanners and users' CI match on these prefixes and on the
// lengths below. Changing any of them silently breaks every token in the wild.
const DEPLOY_PREFIX: &str = "gpd_";
const ORG_PREFIX: &str = "gpo_";
/// Login session credentials (`gps_` + 40 base62): not deployment tokens,
/// but clients tell the two apart by this prefix.
pub const SESSION_PREFIX: &str = "gps_";
const PREFIX_LEN: usize = 4;
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
pub const TOKEN_LEN: usize = PREFIX_LEN + RANDOM_LEN + CHECKSUM_LEN;

/// What kind of credential a token is, as its prefix tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// `gpd_`: reaches one project or one environment.
    Deploy,
    /// `gpo_`: reaches every project of one organization.
    Org,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Deploy => DEPLOY_PREFIX,
            TokenKind::Org => ORG_PREFIX,
        }
    }
}

/// A token's plaintext. It exists only between generation and the creation
/// response: no `Serialize`, and `Debug`/`Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl PlainToken {
    pub fn generate(kind: TokenKind) -> Self {
        let mut bytes = [0u8; TOKEN_LEN];
        bytes[..PREFIX_LEN].copy_from_slice(kind.prefix().as_bytes());
        let (random, checksum) = bytes[PREFIX_LEN..].split_at_mut(RANDOM_LEN);
        base62::fill_random(random);
        base62::encode_fixed(crc32fast::hash(random) as u64, checksum);
        Self(String::from_utf8(bytes.to_vec()).expect("base62 is ASCII"))
    }

    /// The secret itself, for the one response that hands it out.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> TokenKind {
        parse(&self.0).expect("generated tokens are well-formed").kind()
    }

    /// The masked preview, e.g. `gpd_AbC1…x9Yz`: all that lists ever show.
    pub fn preview(&self) -> String {
        let text = &self.0;
        format!("{}{}…{}", &text[..PREFIX_LEN], &text[PREFIX_LEN..PREFIX_LEN + 4], &text[TOKEN_LEN - 4..])
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(<redacted>)")
    }
}

impl fmt::Display for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted token>")
    }
}

/// A well-formed token borrowed from a request: checked, not yet looked up.
#[derive(Clone, Copy)]
pub struct ParsedToken<'a> {
    kind: TokenKind,
    text: &'a str,
}

impl<'a> ParsedToken<'a> {
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    pub fn as_str(&self) -> &'a str {
        self.text
    }
}

impl fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParsedToken({:?}, <redacted>)", self.kind)
    }
}

/// Why a string is not a gatepass token. Never shown to clients (every 401
/// looks the same); useful in tests and for scanners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedToken {
    #[error("unknown token prefix")]
    UnknownPrefix,
    #[error("wrong token length")]
    WrongLength,
    #[error("token has characters outside base62")]
    BadAlphabet,
    #[error("token checksum does not match")]
    BadChecksum,
}

/// Checks prefix, length, alphabet and checksum. Allocates nothing.
pub fn parse(text: &str) -> Result<ParsedToken<'_>, MalformedToken> {
    let kind = if text.starts_with(DEPLOY_PREFIX) {
        TokenKind::Deploy
    } else if text.starts_with(ORG_PREFIX) {
        TokenKind::Org
    } else {
        return Err(MalformedToken::UnknownPrefix);
    };
    if text.len() != TOKEN_LEN {
        return Err(MalformedToken::WrongLength);
    }
    let body = &text.as_bytes()[PREFIX_LEN..];
    if !body.iter().all(|b| base62::is_base62(*b)) {
        return Err(MalformedToken::BadAlphabet);
    }
    let (random, checksum) = body.split_at(RANDOM_LEN);
    let mut expected = [0u8; CHECKSUM_LEN];
    base62::encode_fixed(crc32fast::hash(random) as u64, &mut expected);
    if expected != checksum {
        return Err(MalformedToken::BadChecksum);
    }
    Ok(ParsedToken { kind, text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let token = PlainToken::generate(TokenKind::Deploy);
        let text = token.expose_secret();
        assert_eq!(text.len(), 40);
        assert!(text.starts_with("gpd_"));
        assert_eq!(token.kind(), TokenKind::Deploy);
        assert!(PlainToken::generate(TokenKind::Org).expose_secret().starts_with("gpo_"));
    }

    #[test]
    fn preview_shows_prefix_first_four_and_last_four() {
        let token = PlainToken::generate(TokenKind::Deploy);
        let text = token.expose_secret();
        let preview = token.preview();
        assert_eq!(preview, format!("gpd_{}…{}", &text[4..8], &text[36..]));
        assert!(!preview.contains(&text[8..36]));
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let token = PlainToken::generate(TokenKind::Org);
        let secret = token.expose_secret();
        assert!(!format!("{token:?}").contains(&secret[4..]));
        assert!(!format!("{token}").contains(&secret[4..]));
        let parsed = parse(secret).unwrap();
        assert!(!format!("{parsed:?}").contains(&secret[4..]));
    }

    #[test]
    fn each_malformation_is_named() {
        let good = PlainToken::generate(TokenKind::Deploy);
        let text = good.expose_secret();
        assert_eq!(parse(&text.replacen("gpd_", "ghp_", 1)).unwrap_err(), MalformedToken::UnknownPrefix);
        assert_eq!(parse(&text[..39]).unwrap_err(), MalformedToken::WrongLength);
        assert_eq!(parse(&format!("{}-{}", &text[..10], &text[11..])).unwrap_err(), MalformedToken::BadAlphabet);
        assert!(parse("").is_err());
        assert!(parse("gpd_").is_err());
    }

    proptest! {
        #[test]
        fn parse_of_generate_round_trips(org in any::<bool>()) {
            let kind = if org { TokenKind::Org } else { TokenKind::Deploy };
            let token = PlainToken::generate(kind);
            let parsed = parse(token.expose_secret()).unwrap();
            prop_assert_eq!(parsed.kind(), kind);
            prop_assert_eq!(parsed.as_str(), token.expose_secret());
        }

        #[test]
        fn any_single_character_change_fails_the_checksum(position in 4usize..TOKEN_LEN, replacement in 0usize..62) {
            let token = PlainToken::generate(TokenKind::Deploy);
            let mut bytes = token.expose_secret().as_bytes().to_vec();
            let new = base62::ALPHABET[replacement];
            prop_assume!(bytes[position] != new);
            bytes[position] = new;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(parse(&changed).unwrap_err(), MalformedToken::BadChecksum);
        }
    }
}
