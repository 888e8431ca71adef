//! The daily rollup of `user_events`: events per UTC day and event name, kept by triggers.
//!
//! On SQLite a row per key, updated in place. On PostgreSQL the triggers append delta rows
//! (`fresh`) that a maintenance task folds into one row per key; readers sum `n` per key either
//! way, so the key below is the logical one, not a unique constraint there.

use sea_orm::entity::prelude::*;

use crate::stored::StoredTime;

/// Events of one name in one day (or, on PostgreSQL, a change to that count).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_daily")]
pub struct Model {
    /// The day's start, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day_start: StoredTime,
    /// The event name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_name: String,
    /// How many events (a delta on PostgreSQL until folded).
    pub n: i64,
}

/// The rollup relates to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
