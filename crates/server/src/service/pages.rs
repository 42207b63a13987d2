//! Lists that page (SPEC 6.1): at most `limit` items (default 100, at most
//! 1000) after an opaque cursor that only this server issues.
//!
//! A cursor names where the next page starts (the sort key of the last item
//! given) and is signed with a key every node shares (kept in the settings
//! table), bound to the list it belongs to: a cursor the server did not issue
//! for that list is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatepass_store::{PageKey, PageRequest, Store, StoreResult};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use super::{ServiceError, ServiceResult};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
const KEY_SETTING: &str = "page_cursor_key";
const MAC_LEN: usize = 16;

/// Signs and checks cursors.
pub struct Cursors {
    key: [u8; 32],
}

impl Cursors {
    /// The key every node shares, made by the first node to need it.
    pub async fn load(store: &dyn Store) -> StoreResult<Self> {
        if store.get_setting(KEY_SETTING).await?.is_none() {
            let mut random = [0u8; 32];
            gatepass_core::base62::fill_random(&mut random);
            store.put_setting(KEY_SETTING, &String::from_utf8_lossy(&random)).await?;
        }
        let stored = store.get_setting(KEY_SETTING).await?.unwrap_or_default();
        Ok(Self::with_secret(stored.as_bytes()))
    }

    pub fn with_secret(secret: &[u8]) -> Self {
        let mut key = [0u8; 32];
        key.copy_from_slice(&<Sha256 as sha2::Digest>::digest(secret));
        Self { key }
    }

    fn mac(&self, list: &str, payload: &[u8]) -> [u8; MAC_LEN] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(list.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes()[..MAC_LEN]);
        out
    }

    /// The cursor that continues `list` after `key`.
    pub fn issue(&self, list: &str, key: &PageKey) -> String {
        let mut payload = Vec::with_capacity(8 + key.id.len() + MAC_LEN);
        payload.extend_from_slice(&millis(key.at).to_be_bytes());
        payload.extend_from_slice(key.id.as_bytes());
        let mac = self.mac(list, &payload);
        payload.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// Where a cursor for `list` continues; a cursor this server did not
    /// issue for `list` is a 400.
    pub fn check(&self, list: &str, cursor: &str) -> ServiceResult<PageKey> {
        let refused = || ServiceError::BadRequest("this cursor was not issued by this server for this list".into());
        let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| refused())?;
        if bytes.len() < 8 + MAC_LEN {
            return Err(refused());
        }
        let (payload, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        let expected = self.mac(list, payload);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], mac)) {
            return Err(refused());
        }
        let mut at = [0u8; 8];
        at.copy_from_slice(&payload[..8]);
        let id = String::from_utf8(payload[8..].to_vec()).map_err(|_| refused())?;
        Ok(PageKey { at: gatepass_store::from_millis(i64::from_be_bytes(at)), id })
    }
}

fn millis(at: OffsetDateTime) -> i64 {
    gatepass_store::to_millis(at)
}

/// A page as asked for: how many, after which key.
pub fn request(limit: Option<u32>, after: Option<PageKey>) -> PageRequest {
    PageRequest { after, limit: limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) }
}

/// One page of a listing, and where the next starts (`None`: the last).
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageKey>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` rows read after the page's start: the
    /// extra row only says that there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> PageKey) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(&key) } else { None };
        Page { items: rows, next }
    }

    /// The same page with only the items `keep` says (the next page still
    /// starts where the rows read ended).
    pub fn retain(mut self, keep: impl FnMut(&T) -> bool) -> Self {
        self.items.retain(keep);
        self
    }

    pub fn map<U>(self, map: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(map).collect(), next: self.next }
    }
}

/// The read that asks for one more row than the page shows.
pub fn one_more(page: &PageRequest) -> PageRequest {
    PageRequest { after: page.after.clone(), limit: page.limit + 1 }
}

/// Pages a small list held in memory, ordered by a unique text key (a slug,
/// an email, a name): the page after a cursor starts at the first key after
/// it, so an item removed meanwhile moves nothing.
pub fn in_memory<T>(mut items: Vec<T>, key: impl Fn(&T) -> String, page: &PageRequest) -> Page<T> {
    items.sort_by_key(|item| key(item));
    if let Some(after) = &page.after {
        items.retain(|item| key(item) > after.id);
    }
    Page::from_rows(items, page.limit, |item| PageKey { at: OffsetDateTime::UNIX_EPOCH, id: key(item) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_continue_only_the_list_they_were_issued_for() {
        let cursors = Cursors::with_secret(b"test");
        let key = PageKey { at: gatepass_store::from_millis(1_700_000_000_000), id: "tok_x".into() };
        let cursor = cursors.issue("/v1/orgs/acme/tokens", &key);
        assert_eq!(cursors.check("/v1/orgs/acme/tokens", &cursor).unwrap(), key);
        assert!(cursors.check("/v1/orgs/other/tokens", &cursor).is_err(), "another list");
        assert!(cursors.check("/v1/orgs/acme/tokens", "bm90IGEgY3Vyc29y").is_err(), "forged");
        let mut tampered = cursor.clone().into_bytes();
        tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
        assert!(cursors.check("/v1/orgs/acme/tokens", std::str::from_utf8(&tampered).unwrap()).is_err());
        assert!(Cursors::with_secret(b"another node's key").check("/v1/orgs/acme/tokens", &cursor).is_err());
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        let key = |n: &u32| PageKey { at: OffsetDateTime::UNIX_EPOCH, id: format!("{n:03}") };
        let page = Page::from_rows(vec![1, 2, 3], 2, key);
        assert_eq!((page.items, page.next.map(|k| k.id)), (vec![1, 2], Some("002".into())));
        let last = Page::from_rows(vec![1, 2], 2, key);
        assert_eq!((last.items, last.next), (vec![1, 2], None));
    }

    #[test]
    fn lists_in_memory_page_by_their_key() {
        let names = vec!["staging".to_string(), "production".into(), "dev".into()];
        let first = in_memory(names.clone(), Clone::clone, &request(Some(2), None));
        assert_eq!(first.items, ["dev", "production"]);
        let second = in_memory(names, Clone::clone, &request(Some(2), first.next));
        assert_eq!((second.items, second.next), (vec!["staging".to_string()], None));
        assert_eq!(request(Some(5000), None).limit, MAX_LIMIT);
        assert_eq!(request(None, None).limit, DEFAULT_LIMIT);
    }
}
