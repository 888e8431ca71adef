//! Reads from a hot standby (PostgreSQL streaming replication), and when not to.
//!
//! A store with a standby sends its reads (pages, reports, exports, replays, the live feed's
//! reads) there and everything else (writes, tokens, the access log, rollup upkeep, the
//! transaction catalog) to the primary. A standby is read only while it is *usable*: its last
//! health check answered in time, it had replayed what the primary had written `max_lag` before,
//! and it has replayed at least `required`: the position at which everything the live feed has
//! published is visible. So a reader never sees less than a subscriber was sent; when the
//! standby falls behind or fails, reads go to the primary.
//!
//! Positions in the primary's write-ahead log (LSNs) are compared as byte offsets. A commit
//! record is inserted before its transaction becomes visible, so everything a statement saw on
//! the primary has replayed on a standby whose replay position has reached the primary's
//! insert position taken after that statement.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::{Store, StoreError, StoreOptions};

/// How often the standby's health and replay position are checked.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How long a check of the standby may take before it counts as failed (a standby host that
/// stops answering leaves connections hanging, with no error).
const CHECK_TIMEOUT: Duration = Duration::from_millis(1_000);
/// A WAL page; its header (at most 40 bytes) holds no records.
const WAL_PAGE: u64 = 8_192;
const WAL_PAGE_HEADER: u64 = 40;

/// A hot standby: a pool to it and what is known of it.
#[derive(Clone, Debug)]
pub struct Standby {
    db: DatabaseConnection,
    state: Arc<State>,
}

/// What is known of a standby, shared by every pool to it.
#[derive(Debug)]
struct State {
    /// The most a standby may lag behind the primary and still be read.
    max_lag: Duration,
    /// Whether the last check found it reachable and within `max_lag`.
    healthy: AtomicBool,
    /// Its replay position when last seen (it goes back when the standby restarts).
    replayed: AtomicU64,
    /// The position at which everything the live feed published is visible: reads go to the
    /// standby only once it has replayed this far.
    required: AtomicU64,
}

/// The primary's current WAL insert position, as a byte offset. Raw SQL: a PostgreSQL
/// function that no entity maps.
const PRIMARY_POSITION: &str = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint";
/// Whether a server is a standby, and how far it has replayed (NULL on a primary). Raw SQL:
/// PostgreSQL's recovery functions.
const REPLAY_POSITION: &str =
    "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint";

/// Whether a standby that has replayed up to `replayed` shows everything written before the
/// primary's insert position `target`. An insert position just past a page header is reached
/// by a replay that ended at the page's start: only the header lies between them.
fn reached(replayed: u64, target: u64) -> bool {
    if target == u64::MAX {
        return false;
    }
    let page_start = target - target % WAL_PAGE;
    replayed >= target || (target % WAL_PAGE <= WAL_PAGE_HEADER && replayed >= page_start)
}

impl Standby {
    /// Connects to the standby at `options.url`, which must be a PostgreSQL server in
    /// recovery. Until the standby has replayed what the primary has when the live feed
    /// starts (see [`Store::require_primary_position`]), reads go to the primary.
    pub async fn connect(options: &StoreOptions, max_lag: Duration) -> Result<Standby, StoreError> {
        let db = Self::pool(options).await?;
        let (in_recovery, replayed) = replay_position(&db).await?;
        if !in_recovery {
            return Err(StoreError::NotAStandby(
                "the read database is not a standby in recovery (pg_is_in_recovery() is false)"
                    .into(),
            ));
        }
        Ok(Standby {
            db,
            state: Arc::new(State {
                max_lag,
                healthy: AtomicBool::new(true),
                replayed: AtomicU64::new(replayed),
                required: AtomicU64::new(u64::MAX),
            }),
        })
    }

    /// Another pool to the same standby (sharing what is known of it), for the live feed.
    pub async fn another_pool(&self, options: &StoreOptions) -> Result<Standby, StoreError> {
        Ok(Standby {
            db: Self::pool(options).await?,
            state: self.state.clone(),
        })
    }

    async fn pool(options: &StoreOptions) -> Result<DatabaseConnection, StoreError> {
        let store = Store::connect(options).await?;
        if store.dialect() != super::Dialect::Postgres {
            return Err(StoreError::NotAStandby(
                "reads from a standby need PostgreSQL".into(),
            ));
        }
        Ok(store.db)
    }

    /// Whether reads may go here now.
    fn usable(&self) -> bool {
        let state = &self.state;
        state.healthy.load(Ordering::Acquire)
            && reached(
                state.replayed.load(Ordering::Acquire),
                state.required.load(Ordering::Acquire),
            )
    }

    fn set_healthy(&self, healthy: bool) {
        if self.state.healthy.swap(healthy, Ordering::AcqRel) != healthy {
            match healthy {
                true => tracing::info!("the standby is reachable and within its lag bound"),
                false => tracing::warn!(
                    "the standby is unreachable or lags more than {} ms: reading from the primary",
                    self.state.max_lag.as_millis()
                ),
            }
        }
    }

    /// Reads the standby's replay position (and notes it), or marks it unhealthy.
    async fn check(&self) -> Option<u64> {
        match tokio::time::timeout(CHECK_TIMEOUT, replay_position(&self.db)).await {
            Ok(Ok((true, replayed))) => {
                self.state.replayed.store(replayed, Ordering::Release);
                Some(replayed)
            }
            Ok(Ok((false, _))) => {
                tracing::warn!("the read database left recovery (promoted?)");
                self.set_healthy(false);
                None
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "the standby did not answer");
                self.set_healthy(false);
                None
            }
            Err(_) => {
                tracing::debug!("the standby did not answer in time");
                self.set_healthy(false);
                None
            }
        }
    }
}

/// Whether a server is in recovery, and its replay position (0 when it has none).
async fn replay_position(db: &DatabaseConnection) -> Result<(bool, u64), StoreError> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, REPLAY_POSITION))
        .await?
        .ok_or(StoreError::MissingColumn("pg_is_in_recovery"))?;
    let in_recovery: bool = row.try_get_by_index(0)?;
    let replayed: Option<i64> = row.try_get_by_index(1)?;
    Ok((in_recovery, replayed.map_or(0, |p| p.max(0).unsigned_abs())))
}

/// A wait of the live feed for the standby to replay the primary's position `target`.
#[derive(Clone, Copy, Debug)]
pub struct StandbyWait {
    target: u64,
    since: Instant,
}

/// Where the live feed reads one batch from: a store whose reads go to one server for the
/// whole batch, and which knows what to note before the batch is published.
#[derive(Clone, Debug)]
pub struct FeedReads {
    /// The store, its reads pinned.
    pub store: Store,
    on_standby: bool,
}

impl Store {
    /// This store with its reads sent to `standby` while it is usable.
    pub fn with_standby(mut self, standby: Standby) -> Store {
        self.standby = Some(standby);
        self
    }

    /// Where reads go now: the standby while it is usable, else the primary.
    pub(super) fn reads(&self) -> &DatabaseConnection {
        match &self.standby {
            Some(standby) if self.pinned.unwrap_or_else(|| standby.usable()) => &standby.db,
            _ => &self.db,
        }
    }

    /// This store with its reads on the standby (`true`) or the primary, whatever happens to
    /// the standby meanwhile.
    fn pinned_to(&self, standby: bool) -> Store {
        Store {
            pinned: Some(standby && self.standby.is_some()),
            ..self.clone()
        }
    }

    /// The primary's WAL insert position.
    async fn primary_position(&self) -> Result<u64, StoreError> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                PRIMARY_POSITION,
            ))
            .await?
            .ok_or(StoreError::MissingColumn("pg_current_wal_insert_lsn"))?;
        let position: i64 = row.try_get_by_index(0)?;
        Ok(position.max(0).unsigned_abs())
    }

    /// Reads go to the primary until the standby has replayed what the primary has now; the
    /// live feed calls this once it knows where it starts. Without a standby, does nothing.
    pub async fn require_primary_position(&self) -> Result<(), StoreError> {
        if let Some(standby) = &self.standby {
            let position = self.primary_position().await?;
            standby.state.required.store(position, Ordering::Release);
        }
        Ok(())
    }

    /// Where the live feed may read now so that it sees everything committed on the primary
    /// when `wait` began: the standby once it has replayed that far, else (the standby
    /// unhealthy, or lagging past its bound) the primary. `None`: not yet; `wait` holds the
    /// target, ask again soon. Without a standby, the primary at once.
    pub async fn feed_reads(
        &self,
        wait: &mut Option<StandbyWait>,
    ) -> Result<Option<FeedReads>, StoreError> {
        let primary = || FeedReads {
            store: self.pinned_to(false),
            on_standby: false,
        };
        let Some(standby) = self
            .standby
            .as_ref()
            .filter(|s| s.state.healthy.load(Ordering::Acquire))
        else {
            *wait = None;
            return Ok(Some(primary()));
        };
        let pending = match *wait {
            Some(pending) => pending,
            None => StandbyWait {
                target: self.primary_position().await?,
                since: Instant::now(),
            },
        };
        match standby.check().await {
            Some(replayed) if reached(replayed, pending.target) => {
                *wait = None;
                Ok(Some(FeedReads {
                    store: self.pinned_to(true),
                    on_standby: true,
                }))
            }
            Some(_) if pending.since.elapsed() < standby.state.max_lag => {
                *wait = Some(pending);
                Ok(None)
            }
            _ => {
                *wait = None;
                Ok(Some(primary()))
            }
        }
    }

    /// Before the live feed publishes rows read through `reads`: when they came from the
    /// primary, reads stay on the primary until the standby has replayed them; when they came
    /// from the standby, until the standby is back to where it read them (after a restart).
    pub async fn before_publishing(&self, reads: &FeedReads) -> Result<(), StoreError> {
        let Some(standby) = &self.standby else {
            return Ok(());
        };
        // What the standby showed is visible at its position after the read; should it not
        // answer, at the primary's (which is further).
        let position = match reads.on_standby {
            true => match standby.check().await {
                Some(replayed) => replayed,
                None => self.primary_position().await?,
            },
            false => self.primary_position().await?,
        };
        standby.state.required.fetch_max(position, Ordering::AcqRel);
        Ok(())
    }

    /// The live feed's read of the standby did not finish in time: reads go to the primary
    /// until a check finds the standby answering again.
    pub fn standby_stalled(&self) {
        if let Some(standby) = &self.standby {
            standby.set_healthy(false);
        }
    }

    /// Checks the standby every quarter second until the process ends: reachable, and within
    /// its lag bound of the primary.
    pub fn watch_standby(&self) -> Option<tokio::task::JoinHandle<()>> {
        let standby = self.standby.clone()?;
        let store = self.clone();
        Some(tokio::spawn(async move {
            // The primary's positions of the last `max_lag`, oldest first.
            let mut history: VecDeque<(Instant, u64)> = VecDeque::new();
            loop {
                tokio::time::sleep(CHECK_EVERY).await;
                let now = Instant::now();
                if let Ok(position) = store.primary_position().await {
                    history.push_back((now, position));
                }
                // The newest position at least `max_lag` old is what the standby must have.
                let old = |at: Instant| now.duration_since(at) >= standby.state.max_lag;
                while history.len() >= 2 && history.get(1).is_some_and(|&(at, _)| old(at)) {
                    history.pop_front();
                }
                let due = match history.front() {
                    Some(&(at, position)) if old(at) => position,
                    _ => 0,
                };
                if let Some(replayed) = standby.check().await {
                    standby.set_healthy(due == 0 || reached(replayed, due));
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_past_a_page_header_is_reached_at_the_page_start() {
        assert!(reached(100, 100));
        assert!(!reached(99, 100));
        assert!(reached(8_192, 8_192 + 24));
        assert!(reached(16_384, 16_384 + 40));
        assert!(!reached(8_191, 8_192 + 24));
        assert!(!reached(8_192, 8_192 + 41));
    }
}
