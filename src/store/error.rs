//! The store's errors. None of their texts may reach a client: the GraphQL and HTTP edges log
//! them and answer "internal error".

use sea_orm::DbErr;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL: expected sqlite:// or postgres://")]
    UnsupportedUrl,
    /// A first connection failed.
    #[error("cannot connect to the database: {0}")]
    Unreachable(String),
    /// The pool could not be built.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] DbErr),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[source] DbErr),
    /// The read database is not a PostgreSQL hot standby.
    #[error("cannot read from this database: {0}")]
    NotAStandby(String),
    /// A statement failed.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    /// A statement run on the driver directly (bulk loading) failed.
    #[error("database error: {0}")]
    Driver(#[from] sea_orm::sqlx::Error),
    /// A statement could not be built.
    #[error("cannot build a statement: {0}")]
    Build(#[from] sea_orm::sea_query::error::Error),
    /// A result lacks a column the store reads.
    #[error("the result has no column {0}")]
    MissingColumn(&'static str),
    /// A page packed by the database could not be read.
    #[error("unreadable page: {0}")]
    BadPage(String),
    /// A task reading the database stopped before it answered.
    #[error("a database task stopped: {0}")]
    Task(String),
    /// The rows of a bucketed report lie in more stretches of constant UTC offset than a
    /// report may handle at once; the request must narrow its range.
    #[error(
        "the events in range fall in more than {most} stretches of constant UTC offset in this \
         time zone; narrow the range with filter.from and filter.to"
    )]
    TooManyOffsets {
        /// The most a report handles.
        most: usize,
    },
    /// A stored row holds a value the server cannot read.
    #[error("row {id} has an unreadable {column}: {value:?}")]
    BadRow {
        /// The row's id.
        id: i64,
        /// The column at fault.
        column: &'static str,
        /// What it holds.
        value: String,
    },
}
