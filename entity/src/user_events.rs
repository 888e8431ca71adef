//! The platform's audit log: one row per tracked user event.
//!
//! Storage formats differ by backend (see the migration): on PostgreSQL `user_id` is `uuid` and
//! `created_at` is `timestamp` (UTC); on SQLite both are TEXT (`user_id` the lower-case hyphenated
//! UUID, `created_at` in the form of SQLite's `datetime()`). The two columns are read through
//! the value types of [`crate::stored`], so that both storage formats give the same model.

use sea_orm::entity::prelude::*;

use crate::stored::{StoredTime, StoredUuid};

/// One tracked user event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events")]
pub struct Model {
    /// Auto-incremented row id; grows with time.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The acting user; null for some internal components.
    pub user_id: Option<StoredUuid>,
    /// Address of the user or component; `127.0.0.1` is an internal component.
    pub ipaddr: String,
    /// The client's user agent.
    pub user_agent: String,
    /// The tracked event's name, as the platform writes it.
    pub event_name: String,
    /// Usually a JSON object, sometimes plain text.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// When it happened, UTC.
    pub created_at: StoredTime,
}

/// `user_events` relates to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
