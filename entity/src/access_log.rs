//! The server's access log: one row per request made with a token (or with one that was refused).
//! Every column but the id is TEXT on both backends.

use sea_orm::entity::prelude::*;

/// One recorded request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_log")]
pub struct Model {
    /// Auto-incremented; newest is largest.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When, RFC 3339 in UTC with microseconds (so that text order is time order).
    pub at: String,
    /// The token's name; null when the token was refused.
    pub token_name: Option<String>,
    /// The token's role.
    pub role: Option<String>,
    /// `query`, `mutation`, `subscription` or `export`.
    pub kind: String,
    /// The operation's name.
    pub operation_name: Option<String>,
    /// The variables (or export parameters) as JSON, secrets removed, bounded in size.
    #[sea_orm(column_type = "Text")]
    pub variables: String,
    /// The client's address.
    pub address: Option<String>,
    /// `OK`, `SUBSCRIBED`, or the answer's error codes.
    pub outcome: String,
}

/// `access_log` relates to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
