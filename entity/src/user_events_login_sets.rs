//! The users who logged in per UTC hour (PostgreSQL only), as a bitmap over
//! [`crate::user_events_login_ordinals`], with the hour's logins by method: derived from the
//! login rollup by its fold, and exact for every hour without an unfolded delta there.
//! Distinct users over a bucket are the bits of its hours' bitmaps OR'ed together, computed by
//! the database; the server never reads a bitmap itself.

use sea_orm::entity::prelude::*;

use crate::stored::StoredTime;

/// One hour's logins.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_login_sets")]
pub struct Model {
    /// The hour's start, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour_start: StoredTime,
    /// `BIT VARYING`: bit `i` is set when the user numbered `i` logged in during the hour
    /// (read as its text of `0`s and `1`s).
    #[sea_orm(column_type = "custom(\"bit varying\")", select_as = "text")]
    pub users: String,
    /// Logins in the hour.
    pub logins: i64,
    /// Of them, by LDAP.
    pub ldap: i64,
    /// Of them, by SAML.
    pub saml: i64,
    /// Of them, with a local password.
    pub local: i64,
}

/// The sets relate to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
