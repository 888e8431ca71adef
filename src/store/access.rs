//! The access log as stored: one row per request made with a token, newest first when read.

use sea_orm::ConnectionTrait;

use super::sql::Sql;
use super::{Store, StoreError};

/// One request, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEntry {
    /// The row id (0 before it is stored).
    pub id: i64,
    /// When (RFC 3339, UTC, microseconds).
    pub at: String,
    /// The token's name (none when the token was refused).
    pub token_name: Option<String>,
    /// The token's role.
    pub role: Option<String>,
    /// `query`, `mutation`, `subscription` or `export`.
    pub kind: String,
    /// The operation's name.
    pub operation_name: Option<String>,
    /// The variables (or export parameters) as JSON, secrets removed.
    pub variables: String,
    /// The client's address.
    pub address: Option<String>,
    /// `OK`, or the error codes of the answer.
    pub outcome: String,
}

/// Which entries to read.
#[derive(Clone, Debug, Default)]
pub struct AccessFilter {
    /// Only this token's.
    pub token_name: Option<String>,
    /// At or after (RFC 3339 text, compared as stored).
    pub from: Option<String>,
    /// Before.
    pub to: Option<String>,
}

impl Store {
    /// Stores entries in one statement.
    pub async fn insert_access_entries(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        for chunk in entries.chunks(500) {
            let mut sql = Sql::new(self.dialect);
            sql.push(
                "INSERT INTO access_log (at, token_name, role, kind, operation_name, variables, \
                 address, outcome) VALUES ",
            );
            for (i, e) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind_list([
                    sea_orm::Value::from(e.at.clone()),
                    e.token_name.clone().into(),
                    e.role.clone().into(),
                    e.kind.clone().into(),
                    e.operation_name.clone().into(),
                    e.variables.clone().into(),
                    e.address.clone().into(),
                    e.outcome.clone().into(),
                ]);
            }
            self.db.execute_raw(sql.into_statement()).await?;
        }
        Ok(())
    }

    /// Entries newest first, below `before_id` when given; `limit + 1` are read so that the
    /// caller knows whether more follow.
    pub async fn access_entries(
        &self,
        filter: &AccessFilter,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AccessEntry>, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push(
            "SELECT id, at, token_name, role, kind, operation_name, variables, address, outcome \
             FROM access_log WHERE 1 = 1",
        );
        if let Some(name) = &filter.token_name {
            sql.push(" AND token_name = ").bind(name.clone());
        }
        if let Some(from) = &filter.from {
            sql.push(" AND at >= ").bind(from.clone());
        }
        if let Some(to) = &filter.to {
            sql.push(" AND at < ").bind(to.clone());
        }
        if let Some(id) = before_id {
            sql.push(" AND id < ").bind(id);
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.db.query_all_raw(sql.into_statement()).await?;
        rows.iter()
            .map(|r| {
                Ok(AccessEntry {
                    id: r.try_get_by_index(0)?,
                    at: r.try_get_by_index(1)?,
                    token_name: r.try_get_by_index(2)?,
                    role: r.try_get_by_index(3)?,
                    kind: r.try_get_by_index(4)?,
                    operation_name: r.try_get_by_index(5)?,
                    variables: r.try_get_by_index(6)?,
                    address: r.try_get_by_index(7)?,
                    outcome: r.try_get_by_index(8)?,
                })
            })
            .collect()
    }

    /// Deletes entries older than `before` (RFC 3339 text); returns how many.
    pub async fn prune_access_log(&self, before: &str) -> Result<u64, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("DELETE FROM access_log WHERE at < ")
            .bind(before.to_string());
        Ok(self
            .db
            .execute_raw(sql.into_statement())
            .await?
            .rows_affected())
    }
}
