//! Reads from a hot standby (PostgreSQL streaming replication), and when not to.
//!
//! A store with a standby sends its reads (pages, reports, exports, replays, the live feed's
//! reads) there and everything else (writes, tokens, the access log, rollup upkeep, the
//! transaction catalog) to the primary. A standby is read only while it is *usable*: it
//! answered its last health check, it has replayed what the primary had written `max_lag`
//! ago, and it has replayed everything the live feed published from the primary while it was
//! not usable. Otherwise reads go to the primary, so a reader never sees less than a
//! subscriber was sent.
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

/// A hot standby and what is known of it.
#[derive(Debug)]
pub struct Standby {
    db: DatabaseConnection,
    /// The most a standby may lag behind the primary and still be read.
    max_lag: Duration,
    /// Whether the last health check found it reachable and within `max_lag`.
    healthy: AtomicBool,
    /// Its replay position at the last check.
    replayed: AtomicU64,
    /// The position every read from it must have replayed: what the feed read from the
    /// primary while the standby was not usable.
    required: AtomicU64,
    /// Counts changes of `healthy`, so that a reader can tell that it stayed the same.
    changes: AtomicU64,
}

/// The primary's current WAL insert position, as a byte offset. Raw SQL: a PostgreSQL
/// function that no entity maps.
const PRIMARY_POSITION: &str = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint";
/// Whether a server is a standby, and how far it has replayed (NULL on a primary). Raw SQL:
/// PostgreSQL's recovery functions.
const REPLAY_POSITION: &str =
    "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint";

impl Standby {
    /// Connects to the standby at `options.url`, which must be a PostgreSQL server in
    /// recovery.
    pub async fn connect(options: &StoreOptions, max_lag: Duration) -> Result<Standby, StoreError> {
        let store = Store::connect(options).await?;
        if store.dialect() != super::Dialect::Postgres {
            return Err(StoreError::NotAStandby(
                "reads from a standby need PostgreSQL".into(),
            ));
        }
        let (in_recovery, replayed) = replay_position(store.connection()).await?;
        if !in_recovery {
            return Err(StoreError::NotAStandby(
                "the read database is not a standby in recovery (pg_is_in_recovery() is false)"
                    .into(),
            ));
        }
        Ok(Standby {
            db: store.connection().clone(),
            max_lag,
            healthy: AtomicBool::new(true),
            replayed: AtomicU64::new(replayed),
            required: AtomicU64::new(0),
            changes: AtomicU64::new(0),
        })
    }

    /// Whether reads may go here now.
    fn usable(&self) -> bool {
        self.healthy()
            && self.replayed.load(Ordering::Acquire) >= self.required.load(Ordering::Acquire)
    }

    /// Whether the last check found it reachable and within its lag bound.
    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    fn set_healthy(&self, healthy: bool) {
        if self.healthy.swap(healthy, Ordering::AcqRel) != healthy {
            self.changes.fetch_add(1, Ordering::AcqRel);
            match healthy {
                true => tracing::info!("the standby is back in use for reads"),
                false => tracing::warn!(
                    "the standby is unreachable or lags more than {} ms: reading from the primary",
                    self.max_lag.as_millis()
                ),
            }
        }
    }

    fn note_replayed(&self, position: u64) {
        self.replayed.fetch_max(position, Ordering::AcqRel);
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

/// A reader's view of the standby between two moments: whether its reads went to the
/// primary in between.
#[derive(Clone, Copy, Debug)]
pub struct ReadMark {
    standby: bool,
    changes: u64,
}

impl Store {
    /// This store with its reads sent to `standby` while it is usable.
    pub fn with_standby(mut self, standby: Arc<Standby>) -> Store {
        self.standby = Some(standby);
        self
    }

    /// Where reads go now: the standby while it is usable, else the primary.
    pub(super) fn reads(&self) -> &DatabaseConnection {
        match &self.standby {
            Some(standby) if standby.usable() => &standby.db,
            _ => &self.db,
        }
    }

    /// Whether this store has a standby and reads from it now.
    pub fn reads_from_standby(&self) -> bool {
        self.standby.as_ref().is_some_and(|s| s.usable())
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

    /// Whether a read now sees everything committed on the primary when `wait` began (a read
    /// from the standby once it has replayed that far, or from the primary once the standby
    /// has lagged more than its bound). Not ready yet: `wait` holds where and since when it is
    /// waited for; ask again soon. Without a usable standby, always ready.
    pub async fn reads_caught_up(
        &self,
        wait: &mut Option<StandbyWait>,
    ) -> Result<bool, StoreError> {
        // A healthy standby that is not read only because the feed read the primary last is
        // waited for too: once it has replayed what the primary has now, it is read again.
        let Some(standby) = self.standby.as_ref().filter(|s| s.healthy()) else {
            *wait = None;
            return Ok(true);
        };
        let pending = match *wait {
            Some(pending) => pending,
            None => StandbyWait {
                target: self.primary_position().await?,
                since: Instant::now(),
            },
        };
        if standby.replayed.load(Ordering::Acquire) < pending.target {
            match replay_position(&standby.db).await {
                Ok((_, replayed)) => standby.note_replayed(replayed),
                Err(error) => {
                    tracing::warn!(%error, "the standby did not answer");
                    standby.set_healthy(false);
                }
            }
        }
        if standby.replayed.load(Ordering::Acquire) >= pending.target || !standby.healthy() {
            *wait = None;
            return Ok(true);
        }
        if pending.since.elapsed() >= standby.max_lag {
            // Reads go to the primary until the standby has replayed this far.
            standby.required.fetch_max(pending.target, Ordering::AcqRel);
            *wait = None;
            return Ok(true);
        }
        *wait = Some(pending);
        Ok(false)
    }

    /// Notes, before a read, where reads go.
    pub fn read_mark(&self) -> ReadMark {
        match &self.standby {
            Some(standby) => ReadMark {
                standby: standby.usable(),
                changes: standby.changes.load(Ordering::Acquire),
            },
            None => ReadMark {
                standby: true,
                changes: 0,
            },
        }
    }

    /// After a read that began at `mark` and whose rows were published: if the read may have
    /// gone to the primary, later reads must not go to a standby that has not replayed as far.
    pub async fn published_after(&self, mark: ReadMark) -> Result<(), StoreError> {
        let Some(standby) = &self.standby else {
            return Ok(());
        };
        let stayed = mark.standby
            && standby.usable()
            && standby.changes.load(Ordering::Acquire) == mark.changes;
        if !stayed {
            let position = self.primary_position().await?;
            standby.required.fetch_max(position, Ordering::AcqRel);
        }
        Ok(())
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
                let old = |at: Instant| now.duration_since(at) >= standby.max_lag;
                while history.len() >= 2 && history.get(1).is_some_and(|&(at, _)| old(at)) {
                    history.pop_front();
                }
                let due = match history.front() {
                    Some(&(at, position)) if old(at) => position,
                    _ => 0,
                };
                match replay_position(&standby.db).await {
                    Ok((true, replayed)) => {
                        standby.note_replayed(replayed);
                        standby.set_healthy(replayed >= due);
                    }
                    Ok((false, _)) => {
                        tracing::warn!("the read database left recovery (promoted?)");
                        standby.set_healthy(false);
                    }
                    Err(error) => {
                        tracing::debug!(%error, "the standby did not answer");
                        standby.set_healthy(false);
                    }
                }
            }
        }))
    }
}
