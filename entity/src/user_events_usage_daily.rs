//! The daily usage rollup of `user_events` (PostgreSQL only): per UTC day and event name, how
//! many events reported resource usage and the exact sums of what they reported, kept by the
//! rollup triggers.
//!
//! Like the count rollups on PostgreSQL, the triggers append delta rows (`fresh`) that a
//! maintenance task folds into one row per key; readers sum per key either way, so the key
//! below is the logical one, not a unique constraint. SQLite has no exact decimal type, so
//! there resource usage is read from the events and this table does not exist.

use sea_orm::entity::prelude::*;

use crate::stored::StoredTime;

/// The usage reported by the events of one name in one day (or a change to it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_usage_daily")]
pub struct Model {
    /// The day's start, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day_start: StoredTime,
    /// The event name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_name: String,
    /// Events that reported any usage.
    pub used: i64,
    /// Sum of the vCPUs reported.
    pub cpu: BigDecimal,
    /// Sum of the memory reported, GiB.
    pub memory: BigDecimal,
    /// Sum of the whole GPUs reported.
    pub gpu: BigDecimal,
    /// Whether the row is a delta not yet folded.
    pub fresh: bool,
}

/// The rollup relates to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
