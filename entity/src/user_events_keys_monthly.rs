//! Events per UTC month and per key (PostgreSQL only): the user, the address or the user agent,
//! kept by the rollup triggers. The busiest keys over a range read it.
//!
//! The triggers append delta rows (`fresh`) that a maintenance task folds into one row per key;
//! readers sum per key either way, so the key (month, kind, value) is a logical one, not a
//! unique constraint (sea-orm takes the month as its primary key). On
//! SQLite the busiest keys are read from the events and this table does not exist.

use sea_orm::entity::prelude::*;

use crate::stored::StoredTime;

/// Events with one value of one key in one month (or a change).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_keys_monthly")]
pub struct Model {
    /// The month's start, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month_start: StoredTime,
    /// Which key: `user`, `ip` or `agent`.
    pub key_kind: String,
    /// The key's value (a user id as text; empty for events without a user).
    pub key: String,
    /// How many events (a delta until folded).
    pub n: i64,
    /// Whether the row is a delta not yet folded.
    pub fresh: bool,
}

/// The rollup relates to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
