//! The server's API tokens: a name, a role, an optional user, and the SHA-256 hash of the secret
//! (the secret itself is never stored). Every column is TEXT on both backends, so the model reads
//! the same from either.

use sea_orm::entity::prelude::*;

/// One API token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    /// Its unique name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Its role (`admin`, `analyst`, `ingest`, `self`).
    pub role: String,
    /// The user a `self` token is bound to, as the lower-case hyphenated UUID.
    pub user_id: Option<String>,
    /// The hex SHA-256 of the secret; unique.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// When it was created, RFC 3339 in UTC with microseconds.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// `api_tokens` relates to no other table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
