//! The token change feed over LISTEN/NOTIFY, so that every node sharing the
//! database hears of a rotation, revocation or deletion made on any node.
//!
//! Writers send `pg_notify(TOKEN_CHANGES_CHANNEL, <token id>)` (or `*` when
//! many tokens changed at once) inside the transaction that makes the change,
//! so PostgreSQL delivers it exactly when the change commits, and never for a
//! change that rolled back. Notifications sent while a listener is
//! disconnected are lost; the feed answers every reconnect with
//! [`TokenChange::All`] so that subscribers drop whatever they cached.

use std::time::Duration;

use async_trait::async_trait;
use gatepass_core::id::TokenId;
use gatepass_store::{StoreResult, TokenChange, TokenChangeFeed, TokenChanges};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::mpsc;

use crate::{backend, PgStore};

/// The channel every token change is announced on. Nodes of different
/// versions share a database during a rolling upgrade: keep the name and the
/// payload format (a token id, or `*`) stable.
pub const TOKEN_CHANGES_CHANNEL: &str = "gatepass_token_changes";
/// The payload that means "many tokens may have changed".
pub(crate) const ALL_TOKENS: &str = "*";

/// Changes a slow subscriber has not taken yet. Beyond this the feed waits
/// for room, sending `All` in place of what it could not queue.
const CHANNEL_CAPACITY: usize = 256;
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);

#[async_trait]
impl TokenChangeFeed for PgStore {
    /// Returns once LISTEN is in place: any change committed after this
    /// returns reaches the receiver.
    async fn subscribe_token_changes(&self) -> StoreResult<Option<TokenChanges>> {
        let listener = listen(&self.pool).await.map_err(backend)?;
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(forward(self.pool.clone(), listener, sender));
        Ok(Some(receiver))
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnecting is ours to do (see `forward`), so that we know when it
    // happened and can tell subscribers that changes may have been missed.
    listener.eager_reconnect(false);
    listener.listen(TOKEN_CHANGES_CHANNEL).await?;
    Ok(listener)
}

/// Forwards notifications until the receiver is dropped or the pool closed,
/// reconnecting with backoff whenever the listening connection fails.
async fn forward(pool: PgPool, mut listener: PgListener, sender: mpsc::Sender<TokenChange>) {
    loop {
        let lost = tokio::select! {
            () = sender.closed() => return,
            received = listener.try_recv() => match received {
                Ok(Some(notification)) => {
                    if !deliver(&sender, parse(notification.payload())).await {
                        return;
                    }
                    continue;
                }
                Ok(None) => "the connection was closed".to_string(),
                Err(sqlx::Error::PoolClosed) => return,
                Err(err) => err.to_string(),
            },
        };
        tracing::warn!(reason = %lost, "lost the token change feed; reconnecting");
        listener = match reconnect(&pool, &sender).await {
            Some(listener) => listener,
            None => return,
        };
        tracing::info!("token change feed reconnected");
        // Whatever was announced while we were away is gone.
        if !deliver(&sender, TokenChange::All).await {
            return;
        }
    }
}

/// Tries to listen again, backing off from 100 ms to 2 s; `None` when there
/// is no one left to tell or the pool is closed.
async fn reconnect(pool: &PgPool, sender: &mpsc::Sender<TokenChange>) -> Option<PgListener> {
    let mut delay = FIRST_RETRY;
    loop {
        tokio::select! {
            () = sender.closed() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        match listen(pool).await {
            Ok(listener) => return Some(listener),
            Err(sqlx::Error::PoolClosed) => return None,
            Err(err) => tracing::debug!(error = %err, retry_in = ?delay, "token change feed: cannot listen yet"),
        }
        delay = (delay * 2).min(MAX_RETRY);
    }
}

/// Queues a change; when the subscriber is behind, queues `All` in its place
/// (which covers it) as soon as there is room. False once the receiver is gone.
async fn deliver(sender: &mpsc::Sender<TokenChange>, change: TokenChange) -> bool {
    match sender.try_send(change) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => sender.send(TokenChange::All).await.is_ok(),
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// A token id, `*`, or — from something we do not understand — `All`, which
/// is always safe.
fn parse(payload: &str) -> TokenChange {
    if payload == ALL_TOKENS {
        return TokenChange::All;
    }
    match TokenId::parse(payload) {
        Ok(id) => TokenChange::Token(id),
        Err(err) => {
            tracing::warn!(error = %err, "unexpected token change notification; treating it as a change to all tokens");
            TokenChange::All
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_one_token_or_all() {
        let id = TokenId::generate();
        assert_eq!(parse(id.as_str()), TokenChange::Token(id));
        assert_eq!(parse("*"), TokenChange::All);
        assert_eq!(parse("not an id"), TokenChange::All);
    }

    #[tokio::test]
    async fn a_full_queue_collapses_into_all() {
        let (sender, mut receiver) = mpsc::channel(1);
        let (first, second) = (TokenId::generate(), TokenId::generate());
        assert!(deliver(&sender, TokenChange::Token(first)).await);
        let blocked = tokio::spawn(async move { deliver(&sender, TokenChange::Token(second)).await });
        // On this single-threaded runtime, yielding lets the spawned task find
        // the queue full before anything is taken from it.
        tokio::task::yield_now().await;
        assert!(!blocked.is_finished());
        assert_eq!(receiver.recv().await, Some(TokenChange::Token(first)));
        assert_eq!(receiver.recv().await, Some(TokenChange::All));
        assert!(blocked.await.unwrap());
    }
}
