//! The parsed `update user` events of `user_events` (PostgreSQL only): one row per such event
//! that names its target, kept by the rollup triggers with its event. On SQLite bans are read
//! from the events and this table does not exist.

use sea_orm::entity::prelude::*;

use crate::stored::StoredTime;

/// One update of a user account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_user_updates")]
pub struct Model {
    /// The event's id (sea-orm's key; the table has no unique id: see the migration).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The event's time.
    pub created_at: StoredTime,
    /// The username it updated.
    pub target_username: String,
    /// Whether it says `banned: true`.
    pub banned: bool,
}

/// The table relates to no other by a declared relation (its id is an event's).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
