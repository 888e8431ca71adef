//! `users` and `user`.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Object};

use crate::graphql::error::{OrInternal, bad_input, internal_shared, store};
use crate::graphql::query::{DEFAULT_PAGE_SIZE, size};
use crate::graphql::scalars::UuidValue;
use crate::graphql::types::{User, UserConnection, UserLoader};
use crate::store::UserCursor;

/// Everyone who appears in the log.
#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// Users most recently seen first; `search` is a case-insensitive substring of the
    /// username. `first` defaults to 50, at most 1000.
    #[graphql(complexity = "crate::graphql::query::page_cost(first, None, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        crate::graphql::access::require_everything(ctx, "the user list")?;
        let first = size(crate::graphql::query::max_page(ctx), "first", first)?
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let after = after
            .map(|text| UserCursor::decode(&text).map_err(|e| bad_input("after", e)))
            .transpose()?;
        if search.as_ref().is_some_and(|s| s.chars().count() > 1000) {
            return Err(bad_input("search", "at most 1000 characters"));
        }
        let page = store(ctx)
            .users_page(search.as_deref(), first, after.as_ref())
            .await
            .or_internal()?;
        Ok(UserConnection::new(page, after.is_some()))
    }

    /// One user; null when the id never appears in the log.
    async fn user(&self, ctx: &Context<'_>, id: UuidValue) -> async_graphql::Result<Option<User>> {
        crate::graphql::access::require_user(ctx, id.0)?;
        ctx.data_unchecked::<DataLoader<UserLoader>>()
            .load_one(id.0)
            .await
            .map_err(internal_shared)
    }
}
