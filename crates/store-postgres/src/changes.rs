//! The token change log and its wake-ups over LISTEN/NOTIFY, so that every
//! node sharing the database hears of a rotation, revocation or deletion made
//! on any node.
//!
//! A trigger on `tokens` (migration 0006) numbers each change in commit order
//! in `token_changes` and sends `pg_notify(TOKEN_CHANGES_CHANNEL, 'changed')`
//! inside the changing transaction, so PostgreSQL delivers the wake-up
//! exactly when the change commits, and never for one that rolled back.
//! Wake-ups sent while a listener is disconnected are lost; the feed answers
//! every reconnect with [`TokenChangeSignal::Reconnected`], and readers of
//! the log notice gaps by sequence number anyway.

use std::time::Duration;

use async_trait::async_trait;
use gatepass_store::{
    to_millis, StoreResult, TokenChangeFeed, TokenChangeRecord, TokenChangeSignal, TokenChangeSignals,
};
use gatepass_store_sql::{convert_all, TokenChangeRow, TOKEN_CHANGE_COLUMNS};
use sqlx::postgres::{PgListener, PgPool};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::{backend, PgStore};

/// The channel every token change is announced on (by the trigger of
/// migration 0006). Nodes of different versions share a database during a
/// rolling upgrade: keep the name stable.
pub const TOKEN_CHANGES_CHANNEL: &str = "gatepass_token_changes";

/// Wake-ups a slow subscriber has not taken yet: a plain wake-up and a
/// reconnect; more would say nothing new, since each wake-up sends the
/// reader to the whole log since its last sequence.
const CHANNEL_CAPACITY: usize = 2;
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);

#[async_trait]
impl TokenChangeFeed for PgStore {
    async fn token_change_head(&self) -> StoreResult<u64> {
        let head: i64 = sqlx::query_scalar("SELECT seq FROM token_change_head")
            .fetch_one(&self.change_log)
            .await
            .map_err(backend)?;
        Ok(head as u64)
    }

    async fn token_changes_since(&self, after: u64, limit: u32) -> StoreResult<Vec<TokenChangeRecord>> {
        let rows: Vec<TokenChangeRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_CHANGE_COLUMNS} FROM token_changes WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.change_log)
        .await
        .map_err(backend)?;
        convert_all(rows)
    }

    async fn prune_token_changes(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM token_changes WHERE at < $1")
            .bind(to_millis(before))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    /// Returns once LISTEN is in place: any change committed after this
    /// returns wakes the receiver.
    async fn subscribe_token_changes(&self) -> StoreResult<Option<TokenChangeSignals>> {
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

/// Forwards wake-ups until the receiver is dropped or the pool closed,
/// reconnecting with backoff whenever the listening connection fails.
async fn forward(pool: PgPool, mut listener: PgListener, sender: mpsc::Sender<TokenChangeSignal>) {
    loop {
        let lost = tokio::select! {
            () = sender.closed() => return,
            received = listener.try_recv() => match received {
                Ok(Some(_)) => {
                    if !deliver(&sender, TokenChangeSignal::Changed).await {
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
        if !deliver(&sender, TokenChangeSignal::Reconnected).await {
            return;
        }
    }
}

/// Tries to listen again, backing off from 100 ms to 2 s; `None` when there
/// is no one left to tell or the pool is closed.
async fn reconnect(pool: &PgPool, sender: &mpsc::Sender<TokenChangeSignal>) -> Option<PgListener> {
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

/// Queues a wake-up. A plain one is dropped when one is pending already
/// (which covers it: each wake-up reads the whole log since the reader's
/// last sequence); a reconnect waits for room, so it is never lost. False
/// once the receiver is gone.
async fn deliver(sender: &mpsc::Sender<TokenChangeSignal>, signal: TokenChangeSignal) -> bool {
    match signal {
        TokenChangeSignal::Changed => !matches!(sender.try_send(signal), Err(mpsc::error::TrySendError::Closed(_))),
        TokenChangeSignal::Reconnected => sender.send(signal).await.is_ok(),
    }
}
