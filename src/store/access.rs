//! The access log as stored: one row per request made with a token, newest first when read.

use entity::access_log::{ActiveModel, Column, Entity, Model};
use sea_orm::{ActiveValue, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

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
    /// Stores entries, 500 to a statement.
    pub async fn insert_access_entries(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        for chunk in entries.chunks(500) {
            let rows = chunk.iter().map(|e| ActiveModel {
                id: ActiveValue::NotSet,
                at: ActiveValue::Set(e.at.clone()),
                token_name: ActiveValue::Set(e.token_name.clone()),
                role: ActiveValue::Set(e.role.clone()),
                kind: ActiveValue::Set(e.kind.clone()),
                operation_name: ActiveValue::Set(e.operation_name.clone()),
                variables: ActiveValue::Set(e.variables.clone()),
                address: ActiveValue::Set(e.address.clone()),
                outcome: ActiveValue::Set(e.outcome.clone()),
            });
            Entity::insert_many(rows)
                .exec_without_returning(&self.db)
                .await?;
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
        let mut query = Entity::find();
        if let Some(name) = &filter.token_name {
            query = query.filter(Column::TokenName.eq(name.clone()));
        }
        if let Some(from) = &filter.from {
            query = query.filter(Column::At.gte(from.clone()));
        }
        if let Some(to) = &filter.to {
            query = query.filter(Column::At.lt(to.clone()));
        }
        if let Some(id) = before_id {
            query = query.filter(Column::Id.lt(id));
        }
        let rows = query
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(AccessEntry::from).collect())
    }

    /// Deletes entries older than `before` (RFC 3339 text); returns how many.
    pub async fn prune_access_log(&self, before: &str) -> Result<u64, StoreError> {
        Ok(Entity::delete_many()
            .filter(Column::At.lt(before.to_string()))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

impl From<Model> for AccessEntry {
    fn from(row: Model) -> AccessEntry {
        AccessEntry {
            id: row.id,
            at: row.at,
            token_name: row.token_name,
            role: row.role,
            kind: row.kind,
            operation_name: row.operation_name,
            variables: row.variables,
            address: row.address,
            outcome: row.outcome,
        }
    }
}
