//! API tokens as stored: a name, a role, an optional user, and a hash of the secret (the secret
//! itself is never stored). What the roles mean is decided at the edges, not here.

use entity::api_tokens::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};

use super::{Store, StoreError};

/// A token's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// Its unique name.
    pub name: String,
    /// Its role, as text.
    pub role: String,
    /// The user it is bound to, as text (the `self` role).
    pub user_id: Option<String>,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// A new token to store.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// Its unique name.
    pub name: String,
    /// Its role, as text.
    pub role: String,
    /// The user it is bound to.
    pub user_id: Option<String>,
    /// The hash of its secret.
    pub hash: String,
}

impl Store {
    /// Stores a token; `false` when the name is taken.
    pub async fn insert_token(&self, token: &NewToken) -> Result<bool, StoreError> {
        let row = ActiveModel {
            name: ActiveValue::Set(token.name.clone()),
            role: ActiveValue::Set(token.role.clone()),
            user_id: ActiveValue::Set(token.user_id.clone()),
            token_hash: ActiveValue::Set(token.hash.clone()),
            created_at: ActiveValue::Set(now_text()),
            revoked_at: ActiveValue::NotSet,
        };
        let inserted = Entity::insert(row)
            .on_conflict_do_nothing_on([Column::Name])
            .exec_without_returning(&self.db)
            .await?;
        Ok(matches!(inserted, TryInsertResult::Inserted(1)))
    }

    /// Every token, revoked ones included, by name.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let rows = Entity::find()
            .order_by_asc(Column::Name)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(TokenRow::from).collect())
    }

    /// Revokes a token; `false` when no active token has that name.
    pub async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let result = Entity::update_many()
            .col_expr(
                Column::RevokedAt,
                sea_orm::sea_query::Expr::value(now_text()),
            )
            .filter(Column::Name.eq(name))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// The active token with this hash, if any.
    pub async fn active_token(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let row = Entity::find()
            .filter(Column::TokenHash.eq(hash))
            .filter(Column::RevokedAt.is_null())
            .one(&self.db)
            .await?;
        Ok(row.map(TokenRow::from))
    }

    /// The names of the revoked tokens.
    pub async fn revoked_token_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(Entity::find()
            .select_only()
            .column(Column::Name)
            .filter(Column::RevokedAt.is_not_null())
            .order_by_asc(Column::Name)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }

    /// Whether any token is active (then every request must carry one).
    pub async fn any_active_token(&self) -> Result<bool, StoreError> {
        Ok(Entity::find()
            .filter(Column::RevokedAt.is_null())
            .limit(1)
            .count(&self.db)
            .await?
            > 0)
    }

    /// Whether any token was ever created (revoked ones included).
    pub async fn any_token(&self) -> Result<bool, StoreError> {
        Ok(Entity::find().limit(1).count(&self.db).await? > 0)
    }
}

impl From<Model> for TokenRow {
    fn from(row: Model) -> TokenRow {
        TokenRow {
            name: row.name,
            role: row.role,
            user_id: row.user_id,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
