//! Events per UTC month and per origin (PostgreSQL only): the user, the address and the user
//! agent together. The busiest users, addresses or agents over a range read it. Only the fold of the daily counts adds to it, so a month's events are its rows plus the daily deltas of the month not folded yet.
//!
//! Deltas (`fresh`) are folded by a maintenance task into one row per key; readers sum per key
//! either way, so the key (month, user, address, agent) is a logical one, not a unique
//! constraint (sea-orm takes the month as its primary key). On SQLite the busiest keys are read
//! from the events and this table does not exist.

use sea_orm::entity::prelude::*;

use crate::stored::StoredTime;

/// Events of one origin in one month (or a change).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_keys_monthly")]
pub struct Model {
    /// The month's start, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month_start: StoredTime,
    /// The MD5 of the three keys (user, address and agent joined by `\x01`): with the
    /// time, what the index finds a row's other deltas by.
    pub origin: String,
    /// The user id as text; empty for events without a user.
    pub user_key: String,
    /// The address.
    pub ipaddr: String,
    /// The user agent.
    pub user_agent: String,
    /// How many events (a delta until folded).
    pub n: i64,
    /// Whether the row is a delta not yet folded.
    pub fresh: bool,
}

/// The rollup relates to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
