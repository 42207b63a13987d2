//! The token pattern documented for secret scanners (docs/secret-scanning.md)
//! is read from the document itself and checked against freshly minted
//! tokens and near misses, so the document cannot drift from the format.

use gatepass_core::base62::ALPHABET;
use gatepass_core::token::{parse, MalformedToken, PlainToken, TokenKind};
use regex::Regex;

const DOC: &str = include_str!("../../../docs/secret-scanning.md");

/// The body of the document's first fenced block of `language`.
fn fenced(language: &str) -> &'static str {
    let opening = format!("```{language}\n");
    let start = DOC.find(&opening).unwrap_or_else(|| panic!("no ```{language} block in the document")) + opening.len();
    let length = DOC[start..].find("```").expect("the block is closed");
    &DOC[start..start + length]
}

fn documented_pattern() -> &'static str {
    fenced("regex").trim()
}

/// Every token the documented pattern finds in `text`.
fn found(text: &str) -> Vec<String> {
    let pattern = Regex::new(documented_pattern()).expect("the documented pattern compiles");
    pattern.captures_iter(text).map(|captures| captures[1].to_string()).collect()
}

fn minted(kind: TokenKind) -> String {
    PlainToken::generate(kind).expose_secret().to_string()
}

#[test]
fn the_documented_pattern_finds_every_freshly_minted_token() {
    for _ in 0..500 {
        for kind in [TokenKind::Deploy, TokenKind::Org] {
            let token = minted(kind);
            assert_eq!(found(&token), [token.as_str()]);
            let in_a_log = format!("export GATEPASS_TOKEN={token}\nauthorization: Bearer \"{token}\".");
            assert_eq!(found(&in_a_log), [token.clone(), token.clone()], "{in_a_log}");
        }
    }
}

#[test]
fn the_documented_pattern_rejects_other_prefixes_and_lengths() {
    let token = minted(TokenKind::Deploy);
    let body = &token[4..];
    for prefix in ["gps_", "ghp_", "gpx_", "GPD_", "gpd-", "xgpd_"] {
        assert!(found(&format!("{prefix}{body}")).is_empty(), "{prefix}{body}");
    }
    let short = &token[..39];
    let long = format!("{token}{}", char::from(ALPHABET[7]));
    assert!(found(short).is_empty(), "39 characters: {short}");
    assert!(found(&long).is_empty(), "41 characters: {long}");
    assert!(found(&format!("{}-{}", &token[..20], &token[21..])).is_empty(), "a character outside base62");
}

#[test]
fn with_the_checksum_a_match_with_a_bad_checksum_is_rejected() {
    for _ in 0..200 {
        let token = minted(TokenKind::Org);
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(found(&tampered), [tampered.as_str()], "the pattern alone cannot tell");
        assert_eq!(parse(&tampered).unwrap_err(), MalformedToken::BadChecksum, "the checksum does");
        assert!(parse(&token).is_ok());
    }
}

#[test]
fn the_scanner_rules_use_the_documented_pattern() {
    let pattern = documented_pattern();
    assert!(fenced("toml").contains(&format!("regex = '''{pattern}'''")), "the gitleaks rule");
    assert!(fenced("yaml").contains(&format!("token: '{pattern}'")), "the TruffleHog detector");
}
