//! Last-used times, coalesced in memory and written in batches, so that a
//! verification never writes to the database.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use gatepass_core::id::TokenId;
use gatepass_store::Store;
use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::metrics::Metrics;
use crate::periodic::{spawn_every, OnShutdown};

#[derive(Debug, Default)]
pub struct LastUsed {
    pending: Mutex<HashMap<TokenId, OffsetDateTime>>,
}

impl LastUsed {
    pub fn touch(&self, id: TokenId, at: OffsetDateTime) {
        let mut pending = self.pending.lock();
        let slot = pending.entry(id).or_insert(at);
        if *slot < at {
            *slot = at;
        }
    }

    /// Writes everything pending in one batch. On failure the times are put
    /// back, so a database hiccup loses nothing.
    pub async fn flush(&self, store: &dyn Store, metrics: &Metrics) {
        let batch: Vec<(TokenId, OffsetDateTime)> = self.pending.lock().drain().collect();
        if batch.is_empty() {
            return;
        }
        match store.record_last_used(&batch).await {
            Ok(()) => {
                metrics.last_used_flushes.fetch_add(1, Ordering::Relaxed);
                metrics.last_used_rows_written.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::warn!(error = %err, tokens = batch.len(), "could not save last-used times; will retry");
                for (id, at) in batch {
                    self.touch(id, at);
                }
            }
        }
    }
}

/// Flushes every `interval` until `shutdown` fires, then once more.
pub fn spawn_flusher(
    last_used: Arc<LastUsed>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    interval: std::time::Duration,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    spawn_every(interval, shutdown, OnShutdown::RunOnceMore, move || {
        let (last_used, store, metrics) = (last_used.clone(), store.clone(), metrics.clone());
        async move { last_used.flush(store.as_ref(), &metrics).await }
    })
}
