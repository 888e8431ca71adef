//! The store: every SQL statement the server runs, on SQLite and PostgreSQL alike.
//!
//! Callers hand in plain Rust values (filters, page requests, new rows) and get rows back; the
//! store knows nothing of GraphQL or HTTP. Filtering, paging and counting happen in SQL, and both
//! backends give the same answers.

mod access;
mod activity;
mod backend;
mod cursor;
mod error;
mod events;
mod filter;
mod import;
mod report;
mod rollup;
mod sharing;
mod sql;
mod standby;
mod time;
mod tokens;
mod users;
mod zone;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

/// How long a pooled connection may sit idle before it is pinged on checkout.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(10);

pub use access::{AccessEntry, AccessFilter};
pub use activity::{LoginRow, Span};
pub use backend::Dialect;
pub use cursor::{Cursor, CursorError};
pub use error::StoreError;
pub use events::{EventRow, NewEventRow, Page, PageRequest, SortOrder};
pub use filter::{EventFilter, INTERNAL_ADDRESS};
pub use import::{Import, ImportBatch, ImportRow};
pub use report::{CountRow, CountSource, GroupKey, GroupValues, Grouping, TimeBucket, UsageRow};
pub use sharing::{Exposure, SharedResource};
pub use standby::{FeedReads, Standby, StandbyWait};
pub use time::{
    FIRST_INSTANT, LAST_INSTANT, OutOfRange, accepted_instant, format_db_time, parse_db_time,
    push_db_time,
};
pub use tokens::{NewToken, TokenRow};
pub use users::{UserCursor, UserPage, UserRow};
pub use zone::parse_zone;

/// How to open the database.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://FILE?mode=rwc` or `postgres://...`.
    pub url: String,
    /// Connections in the pool.
    pub pool_size: u32,
    /// On PostgreSQL, the longest any statement may run before the server cancels it.
    pub statement_timeout: Option<Duration>,
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// Where reads go while it is usable (see [`standby`]).
    standby: Option<Standby>,
    /// Reads held on the standby (`true`) or the primary for a while, whatever the standby's
    /// state; `None`: as the standby's state says.
    pinned: Option<bool>,
    dialect: Dialect,
    statements: Arc<AtomicU64>,
}

impl Store {
    /// Opens a connection pool (creating a SQLite file when the URL says `mode=rwc`).
    pub async fn connect(options: &StoreOptions) -> Result<Store, StoreError> {
        let dialect = if options.url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if options.url.starts_with("postgres://") || options.url.starts_with("postgresql://")
        {
            Dialect::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        probe(&options.url, dialect).await?;
        let mut connect = ConnectOptions::new(options.url.clone());
        connect
            .max_connections(options.pool_size.max(1))
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(8))
            // A connection in use is known to be alive; only one idle for a while (which a
            // server, proxy or firewall may have dropped) is pinged before it is handed out.
            // Pinging on every checkout cost each statement a second round trip.
            .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
            .sqlx_logging(false);
        if let (Dialect::Postgres, Some(limit)) = (dialect, options.statement_timeout) {
            let value = format!("{}ms", limit.as_millis().max(1));
            connect.map_sqlx_postgres_opts(move |o| {
                o.options([("statement_timeout", value.as_str())])
            });
        }
        if dialect == Dialect::Sqlite {
            connect.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
            });
        }
        let mut db = Database::connect(connect)
            .await
            .map_err(StoreError::Connect)?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Store {
            db,
            standby: None,
            pinned: None,
            dialect,
            statements,
        })
    }

    /// The backend behind this store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// How many SQL statements this store has run since it connected.
    pub fn statements_run(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The underlying sea-orm connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Creates or upgrades the schema; returns how many migrations ran.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let pending = Migrator::get_pending_migrations(&self.db)
            .await
            .map_err(StoreError::Migration)?
            .len();
        Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::Migration)?;
        Ok(pending)
    }

    /// Connections in the pool now, and how many of them are idle.
    pub fn pool_use(&self) -> (usize, usize) {
        match self.dialect {
            Dialect::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size() as usize, pool.num_idle())
            }
            Dialect::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size() as usize, pool.num_idle())
            }
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}

/// One direct connection before the pool is built: a pool only says that it timed out, while
/// this says why (refused, unknown host, bad password, no such file).
async fn probe(url: &str, dialect: Dialect) -> Result<(), StoreError> {
    use sea_orm::sqlx::Connection;
    let attempt = async {
        match dialect {
            Dialect::Sqlite => {
                sea_orm::sqlx::SqliteConnection::connect(url)
                    .await?
                    .close()
                    .await
            }
            Dialect::Postgres => {
                sea_orm::sqlx::PgConnection::connect(url)
                    .await?
                    .close()
                    .await
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(StoreError::Unreachable(error.to_string())),
        Err(_) => Err(StoreError::Unreachable("no answer within 10 s".into())),
    }
}
