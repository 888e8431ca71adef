//! Upkeep no request waits for: folding the rollups' deltas into one row per key (PostgreSQL,
//! where the triggers append deltas so that writers never wait on each other).
//!
//! Every server process runs it; several on one database do no harm, since folds take a lock
//! (which a `TRUNCATE` of the log takes too) and run one at a time.

use std::time::Duration;

use crate::store::Store;

/// How often the rollups' deltas are folded.
pub const COMPACT_EVERY: Duration = Duration::from_secs(10);

/// The running upkeep task; it stops when this is dropped.
#[derive(Debug)]
pub struct Maintenance(tokio::task::AbortHandle);

impl Drop for Maintenance {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the upkeep of `store`'s rollups, folding them `every` so often.
pub fn start(store: Store, every: Duration) -> Maintenance {
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if let Err(error) = store.compact_rollups().await {
                tracing::warn!(%error, "folding the rollups failed; trying again later");
            }
        }
    });
    Maintenance(task.abort_handle())
}
