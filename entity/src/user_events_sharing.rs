//! The parsed sharing changes of `user_events` (PostgreSQL only): one row per `update session
//! sharing status` or `job sharing updated` event that names its resource, kept by the rollup
//! triggers (inserted, deleted and replaced with its event). On SQLite the sharing exposure
//! parses the events and this table does not exist.

use sea_orm::entity::prelude::*;

use crate::stored::StoredTime;

/// One sharing change.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_sharing")]
pub struct Model {
    /// The event's id (sea-orm's key; the table has no unique id: see the migration).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The event's time.
    pub created_at: StoredTime,
    /// The event's name (which kind of resource).
    pub event_name: String,
    /// The session or job it changed.
    pub resource_id: String,
    /// The status it set, trimmed and upper-cased; null when it says none.
    pub status: Option<String>,
}

/// The table relates to no other by a declared relation (its id is an event's).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
