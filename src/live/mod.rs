//! Live events: one reader of new rows per server process, feeding every subscriber through a
//! shared broadcast.
//!
//! The reader (the tailer) follows `user_events` by id and publishes each new event once, in id
//! order. Whoever wrote the row (a mutation, an import, the platform's own INSERT) makes no
//! difference: rows are always read back from the table. On PostgreSQL a trigger's NOTIFY wakes
//! the tailer, and a periodic read is the safety net; on SQLite the tailer reads every few
//! hundred milliseconds, and writes made through this process wake it at once.
//!
//! Ids are taken when rows are inserted but become visible when their transactions commit, which
//! need not be in id order. The tailer never publishes past a missing id until it knows that id
//! can no longer appear: see [`tailer`].

pub mod tailer;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, broadcast, watch};

use crate::store::{EventFilter, EventRow, Store, StoreError};

/// How many batches of new events (each at most [`tailer::BATCH`] rows, usually a handful) the
/// broadcast holds for subscribers that fall behind; one that falls further is cut off with the
/// last id it was given, so it can resume.
pub const BUFFER: usize = 1024;
/// How often the tailer reads when nothing wakes it.
pub const SAFETY_NET: Duration = Duration::from_millis(1000);
/// How often the tailer reads on SQLite, where nothing wakes it for other writers.
pub const SQLITE_POLL: Duration = Duration::from_millis(200);
/// How often revoked tokens are read, so that their subscriptions end.
pub const REVOCATION_POLL: Duration = Duration::from_secs(1);
/// Replayed events are read from the table in pages of this size.
const REPLAY_PAGE: u64 = 500;

/// The live side of a server process: the broadcast of new events and its watermark.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    /// Batches rather than single events: a subscriber wakes once per batch, not per event.
    sender: broadcast::Sender<Arc<Vec<Arc<EventRow>>>>,
    /// Every id up to here is published or known never to appear.
    watermark: AtomicI64,
    wake: Notify,
    stop: watch::Sender<bool>,
    /// The names of revoked tokens, read again every [`REVOCATION_POLL`].
    revoked: watch::Sender<Arc<HashSet<String>>>,
    /// Moves on whenever tokens may have changed (PostgreSQL notifies).
    tokens: AtomicU64,
}

/// What a subscription yields.
#[derive(Debug)]
pub enum Delivery {
    /// The next event.
    Event(Arc<EventRow>),
    /// The subscriber fell behind the buffer. Every event up to `last_id` that matched its
    /// filter was delivered, so resuming with `after: last_id` misses nothing.
    Lagged {
        /// The last id delivered or passed over as not matching.
        last_id: i64,
    },
    /// The server is shutting down.
    Closed,
}

/// Reads the revoked tokens every [`REVOCATION_POLL`] until the server stops.
async fn watch_revocations(live: Live, store: Store) {
    let mut stop = live.stop_signal();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            () = tokio::time::sleep(REVOCATION_POLL) => {}
        }
        match store.revoked_token_names().await {
            Ok(names) => {
                let names: HashSet<String> = names.into_iter().collect();
                live.inner.revoked.send_if_modified(|current| {
                    let changed = **current != names;
                    if changed {
                        *current = Arc::new(names);
                    }
                    changed
                });
            }
            Err(error) => tracing::warn!(%error, "cannot read the revoked tokens"),
        }
    }
}

/// Resolves once `stop` says so (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before anything else awaits.
    let _ = stop.wait_for(|stopped| *stopped).await.map(|_| ());
}

impl Live {
    /// Starts the tailer over `store`, from the newest event stored now.
    pub async fn start(store: Store, database_url: &str) -> Result<Live, StoreError> {
        Self::start_with_buffer(store, database_url, BUFFER).await
    }

    /// [`Live::start`] with another buffer size (how far a subscriber may fall behind).
    pub async fn start_with_buffer(
        store: Store,
        database_url: &str,
        buffer: usize,
    ) -> Result<Live, StoreError> {
        let start = store.feed_start().await?;
        // Reads from a standby wait until it shows what the feed starts above.
        store.require_primary_position().await?;
        let (sender, _) = broadcast::channel(buffer.max(1));
        let (stop, _) = watch::channel(false);
        let initially = store.revoked_token_names().await?;
        let (revoked, _) = watch::channel(Arc::new(initially.into_iter().collect()));
        let live = Live {
            inner: Arc::new(Inner {
                sender,
                watermark: AtomicI64::new(start),
                wake: Notify::new(),
                stop,
                revoked,
                tokens: AtomicU64::new(0),
            }),
        };
        tokio::spawn(watch_revocations(live.clone(), store.clone()));
        tailer::spawn(live.clone(), store, database_url.to_string()).await?;
        Ok(live)
    }

    /// Reads at once (a write through this process just committed).
    pub fn nudge(&self) {
        self.inner.wake.notify_one();
    }

    /// Ends every subscription and stops the tailer.
    pub fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
    }

    /// A receiver that turns true when the server shuts down.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// A number that moves on whenever a token may have been created or revoked.
    pub fn tokens_generation(&self) -> u64 {
        self.inner.tokens.load(Ordering::Acquire)
    }

    pub(crate) fn tokens_changed(&self) {
        self.inner.tokens.fetch_add(1, Ordering::AcqRel);
    }

    /// Resolves once the token `name` is revoked (never, while it is not).
    pub async fn revoked(&self, name: &str) {
        let mut revoked = self.inner.revoked.subscribe();
        // The sender lives as long as `self`, so this waits until the name shows up.
        let _ = revoked.wait_for(|names| names.contains(name)).await;
    }

    /// Whether the token `name` was revoked, as last read (at most [`REVOCATION_POLL`] ago).
    pub fn is_revoked(&self, name: &str) -> bool {
        self.inner.revoked.borrow().contains(name)
    }

    /// The id up to which events have been published.
    pub fn watermark(&self) -> i64 {
        self.inner.watermark.load(Ordering::Acquire)
    }

    /// Publishes rows read in id order, then moves the watermark past them.
    fn publish(&self, rows: Vec<crate::store::EventRow>) {
        let Some(last) = rows.last().map(|r| r.id) else {
            return;
        };
        let batch: Vec<Arc<EventRow>> = rows.into_iter().map(Arc::new).collect();
        // No receivers is not an error: nobody is listening right now.
        let _ = self.inner.sender.send(Arc::new(batch));
        self.inner.watermark.fetch_max(last, Ordering::AcqRel);
    }

    fn advance(&self, to: i64) {
        self.inner.watermark.fetch_max(to, Ordering::AcqRel);
    }

    /// Subscribes to events matching `filter`; with `after`, every stored event with a larger id
    /// comes first, in id order, then live events, each exactly once.
    pub fn subscribe(
        &self,
        store: Store,
        filter: EventFilter,
        after: Option<i64>,
    ) -> impl async_graphql::futures_util::Stream<Item = Result<Delivery, StoreError>> + Send + use<>
    {
        let mut receiver = self.inner.sender.subscribe();
        let mut stop = self.inner.stop.subscribe();
        // Read after subscribing: every event above the watermark is then in the receiver.
        let watermark = self.watermark();
        async_stream::try_stream! {
            let mut last = watermark;
            if let Some(after) = after {
                let mut from = after;
                while from < watermark {
                    let rows = store.events_after(from, &filter, REPLAY_PAGE).await?;
                    let Some(tail) = rows.last().map(|r| r.id) else { break };
                    for row in rows {
                        if row.id > watermark {
                            break;
                        }
                        yield Delivery::Event(Arc::new(row));
                    }
                    if tail >= watermark {
                        break;
                    }
                    from = tail;
                }
                // Live events at or below `after` were asked not to be sent again.
                last = watermark.max(after);
            }
            loop {
                tokio::select! {
                    () = stopped(&mut stop) => {
                        yield Delivery::Closed;
                        break;
                    }
                    received = receiver.recv() => match received {
                        Ok(batch) => {
                            for row in batch.iter() {
                                if row.id <= last {
                                    continue;
                                }
                                last = row.id;
                                if filter.matches(row) {
                                    yield Delivery::Event(row.clone());
                                }
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            yield Delivery::Lagged { last_id: last };
                            break;
                        }
                        Err(broadcast::error::RecvError::Closed) => {
                            yield Delivery::Closed;
                            break;
                        }
                    }
                }
            }
        }
    }
}
