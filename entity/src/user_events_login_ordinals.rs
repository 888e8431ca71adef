//! A small number per user who ever logged in (PostgreSQL only), given once by the login
//! rollup's fold: a user's bit in [`crate::user_events_login_sets`].

use sea_orm::entity::prelude::*;

/// One user's number.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_events_login_ordinals")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Their bit, from 0, unique.
    #[sea_orm(unique)]
    pub ordinal: i32,
}

/// The numbers relate to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
