//! The login rollup of `user_events` (PostgreSQL only): `user login` events per UTC hour, user
//! and auth method, kept by the rollup triggers.
//!
//! The triggers append delta rows (`fresh`) that a maintenance task folds into one row per key;
//! readers sum per key either way, so the key (hour, user, method) is a logical one, not a
//! unique constraint (sea-orm takes the hour as its primary key: the others may
//! be null). On SQLite login activity is read from the events and this table does not exist.

use sea_orm::entity::prelude::*;

use crate::stored::{StoredTime, StoredUuid};

/// Logins of one user (or of events without one) by one method in one hour (or a change).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_logins_hourly")]
pub struct Model {
    /// The hour's start, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour_start: StoredTime,
    /// The user (null for logins without one); with the method, the rest of the logical key.
    pub user_id: Option<StoredUuid>,
    /// `LDAP`, `SAML`, `LOCAL`, or null for any other method or none.
    pub method: Option<String>,
    /// How many logins (a delta until folded).
    pub n: i64,
    /// Whether the row is a delta not yet folded.
    pub fresh: bool,
}

/// The rollup relates to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
