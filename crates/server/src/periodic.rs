//! Background work that runs at start and then on a fixed interval until the
//! server shuts down: the last-used flusher, the deploy timeout sweeper and
//! the expiry reminder sweep all run through [`spawn_every`]. (The outbox
//! worker also wakes on demand: `outbox::webhooks::spawn_worker`.)

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// What a periodic task does when the server shuts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnShutdown {
    /// Stop at once.
    Stop,
    /// Run one last time (to write out what is pending), then stop.
    RunOnceMore,
}

/// Runs `work` now, then every `interval` (a run that overruns delays the
/// next rather than bunching them up), until `shutdown` changes.
pub fn spawn_every<F, Fut>(
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    on_shutdown: OnShutdown,
    mut work: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => work().await,
                _ = shutdown.changed() => {
                    if on_shutdown == OnShutdown::RunOnceMore {
                        work().await;
                    }
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;

    async fn runs_until_shutdown(on_shutdown: OnShutdown) -> u32 {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let (stop, stopped) = watch::channel(false);
        let (ran, mut first_run) = tokio::sync::mpsc::unbounded_channel();
        let task = spawn_every(Duration::from_secs(3600), stopped, on_shutdown, move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = ran.send(());
            async {}
        });
        first_run.recv().await.expect("the first run happens at start");
        stop.send(true).unwrap();
        task.await.unwrap();
        runs.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn work_runs_at_start_and_once_more_at_shutdown_when_asked() {
        assert_eq!(runs_until_shutdown(OnShutdown::Stop).await, 1);
        assert_eq!(runs_until_shutdown(OnShutdown::RunOnceMore).await, 2);
    }
}
