//! Following the token change log, so that this node's caches stay exact on
//! a database shared with other nodes.
//!
//! The database numbers every token change in commit order (migration 0006).
//! This node remembers the last number it applied, and reads the changes
//! after it whenever another node wakes it (NOTIFY) and at least every
//! [`POLL_INTERVAL`] whatever happens, dropping the digests each change
//! names. The cost grows with the number of nodes and of changes, not with
//! the number of tokens in use.
//!
//! It never trusts what it cannot vouch for:
//! - a gap in the numbers (changes pruned before this node read them) or a
//!   reconnect of the wake-ups starts the cache afresh;
//! - a node that has not read the log for [`DEADLINE`] (a database it cannot
//!   reach) stops using its cache, and starts it afresh once it reads again.
//!
//! A revocation is so refused on every node within about [`POLL_INTERVAL`]
//! even when its wake-up is lost, and never later than [`DEADLINE`].

use std::sync::Arc;
use std::time::Duration;

use gatepass_store::{Store, StoreResult, TokenChangeSignal, TokenChangeSignals};
use time::OffsetDateTime;
use tokio::sync::watch;

use super::TokenVerifier;

/// The longest this node goes without reading the log.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long a successful read of the log vouches for the cache.
pub const DEADLINE: Duration = Duration::from_millis(750);
/// Changes read per round trip.
const BATCH: u32 = 1000;
/// How long changes stay in the log: far longer than any live node lags.
pub const RETENTION: time::Duration = time::Duration::hours(1);

/// Where this node is in the log.
pub struct Follower {
    verifier: Arc<TokenVerifier>,
    store: Arc<dyn Store>,
    applied: u64,
}

impl Follower {
    /// Starts at the log's current head: nothing is cached yet, so nothing
    /// before it can be stale.
    pub async fn start(verifier: Arc<TokenVerifier>, store: Arc<dyn Store>) -> StoreResult<Self> {
        let applied = store.token_change_head().await?;
        verifier.forget_all();
        verifier.cache().trust.renew(DEADLINE);
        Ok(Self { verifier, store, applied })
    }

    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Applies every change after the last one applied. On success the
    /// cache is vouched for [`DEADLINE`] more.
    pub async fn catch_up(&mut self) -> StoreResult<()> {
        loop {
            let changes = self.store.token_changes_since(self.applied, BATCH).await?;
            for change in &changes {
                if change.seq != self.applied + 1 {
                    tracing::warn!(
                        after = self.applied,
                        next = change.seq,
                        "token change log has a gap (pruned before this node read it); starting the cache afresh"
                    );
                    self.verifier.forget_all();
                } else {
                    self.verifier.apply(change);
                }
                self.applied = change.seq;
            }
            if changes.len() < BATCH as usize {
                break;
            }
        }
        if !self.verifier.cache().trust.renew(DEADLINE) {
            tracing::warn!("the token change log could not be read in time; starting the cache afresh");
            self.verifier.forget_all();
        }
        Ok(())
    }

    /// A reconnect may have missed wake-ups; the log has every change, but
    /// nothing cached is trusted across it.
    pub fn reconnected(&mut self) {
        tracing::info!("token change feed reconnected; starting the cache afresh");
        self.verifier.forget_all();
    }
}

/// Follows the log until shutdown: on every wake-up (when there is a feed)
/// and every [`POLL_INTERVAL`]. Also prunes changes older than [`RETENTION`] now and
/// then (any node may; it is idempotent).
pub fn spawn(
    mut follower: Follower,
    signals: Option<TokenChangeSignals>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut prune = tokio::time::interval(Duration::from_secs(600));
        let mut feed_open = signals.is_some();
        let (_no_feed, idle) = tokio::sync::mpsc::channel(1);
        let mut signals = signals.unwrap_or(idle);
        loop {
            tokio::select! {
                _ = poll.tick() => {}
                signal = signals.recv(), if feed_open => match signal {
                    Some(TokenChangeSignal::Changed) => {}
                    Some(TokenChangeSignal::Reconnected) => follower.reconnected(),
                    None => feed_open = false,
                },
                _ = prune.tick() => {
                    let before = OffsetDateTime::now_utc() - RETENTION;
                    if let Err(err) = follower.store.prune_token_changes(before).await {
                        tracing::warn!(error = %err, "could not prune the token change log");
                    }
                    continue;
                }
                _ = shutdown.changed() => return,
            }
            if let Err(err) = follower.catch_up().await {
                tracing::warn!(error = %err, "could not read the token change log; the cache is trusted until its deadline");
            }
        }
    })
}
