//! API tokens as stored: a name, a role, an optional user, and a hash of the secret (the secret
//! itself is never stored). What the roles mean is decided at the edges, not here.

use sea_orm::ConnectionTrait;

use super::sql::Sql;
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

const TOKEN_COLUMNS: &str = "name, role, user_id, created_at, revoked_at";

impl Store {
    /// Stores a token; `false` when the name is taken.
    pub async fn insert_token(&self, token: &NewToken) -> Result<bool, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("INSERT INTO api_tokens (name, role, user_id, token_hash, created_at) VALUES ")
            .bind_list([
                sea_orm::Value::from(token.name.clone()),
                token.role.clone().into(),
                token.user_id.clone().into(),
                token.hash.clone().into(),
                now_text().into(),
            ])
            .push(" ON CONFLICT (name) DO NOTHING");
        let result = self.db.execute_raw(sql.into_statement()).await?;
        Ok(result.rows_affected() == 1)
    }

    /// Every token, revoked ones included, by name.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT ")
            .push(TOKEN_COLUMNS)
            .push(" FROM api_tokens ORDER BY name");
        let rows = self.db.query_all_raw(sql.into_statement()).await?;
        rows.iter().map(decode_token).collect()
    }

    /// Revokes a token; `false` when no active token has that name.
    pub async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("UPDATE api_tokens SET revoked_at = ")
            .bind(now_text())
            .push(" WHERE name = ")
            .bind(name)
            .push(" AND revoked_at IS NULL");
        let result = self.db.execute_raw(sql.into_statement()).await?;
        Ok(result.rows_affected() == 1)
    }

    /// The active token with this hash, if any.
    pub async fn active_token(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT ")
            .push(TOKEN_COLUMNS)
            .push(" FROM api_tokens WHERE token_hash = ")
            .bind(hash)
            .push(" AND revoked_at IS NULL");
        match self.db.query_one_raw(sql.into_statement()).await? {
            Some(row) => Ok(Some(decode_token(&row)?)),
            None => Ok(None),
        }
    }

    /// The names of the revoked tokens.
    pub async fn revoked_token_names(&self) -> Result<Vec<String>, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT name FROM api_tokens WHERE revoked_at IS NOT NULL ORDER BY name");
        let rows = self.db.query_all_raw(sql.into_statement()).await?;
        rows.iter()
            .map(|r| Ok(r.try_get_by_index::<String>(0)?))
            .collect()
    }

    /// Whether any token is active (then every request must carry one).
    pub async fn any_active_token(&self) -> Result<bool, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT 1 FROM api_tokens WHERE revoked_at IS NULL LIMIT 1");
        Ok(self.db.query_one_raw(sql.into_statement()).await?.is_some())
    }

    /// Whether any token was ever created (revoked ones included).
    pub async fn any_token(&self) -> Result<bool, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT 1 FROM api_tokens LIMIT 1");
        Ok(self.db.query_one_raw(sql.into_statement()).await?.is_some())
    }
}

fn decode_token(row: &sea_orm::QueryResult) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        name: row.try_get_by_index(0)?,
        role: row.try_get_by_index(1)?,
        user_id: row.try_get_by_index(2)?,
        created_at: row.try_get_by_index(3)?,
        revoked_at: row.try_get_by_index(4)?,
    })
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
