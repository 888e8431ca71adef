//! The access log as stored: one row per request made with a token, newest first when read.

use entity::access_log::{ActiveModel, Column, Entity};
use sea_orm::{ActiveValue, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Store, StoreError};

/// One request, as recorded: the `access_log` entity's row (`id` is 0 before it is stored).
pub use entity::access_log::Model as AccessEntry;

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
            let rows = chunk.iter().map(|entry| {
                let mut row: ActiveModel = entry.clone().into();
                // The database numbers the entries.
                row.id = ActiveValue::NotSet;
                row
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
        Ok(query
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
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
