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
        #[graphql(
            desc = "How many items to return from the start of the list (default 50, at most --max-page-size)."
        )]
        first: Option<i32>,
        #[graphql(desc = "A cursor from a previous page (`endCursor`): the page starts after it.")]
        after: Option<String>,
        #[graphql(
            desc = "Only users whose username contains this text (ASCII case-insensitive, at most 1000 characters)."
        )]
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

    /// One user; null when the id never appears in the log (or, for a `self` token, is
    /// another user).
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: UuidValue,
    ) -> async_graphql::Result<Option<User>> {
        if !crate::graphql::access::sees_user(ctx, id.0)? {
            return Ok(None);
        }
        ctx.data_unchecked::<DataLoader<UserLoader>>()
            .load_one(id.0)
            .await
            .map_err(internal_shared)
    }
}
