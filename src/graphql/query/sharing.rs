//! `sessionSharingChanges`, `jobSharingChanges` and `sharingExposure`.

use async_graphql::{Context, Object};

use super::newest_first;
use crate::details::SharingStatus;
use crate::graphql::error::{OrInternal, bad_input, store};
use crate::graphql::limits::ReportRows;
use crate::graphql::scalars::DateTime;
use crate::graphql::types::{EventFilterInput, SharingChangeConnection, SharingExposure};
use crate::store::SharedResource;

/// Who opened what to whom, and what was open when.
#[derive(Default)]
pub struct SharingQuery;

impl SharingQuery {
    async fn changes(
        ctx: &Context<'_>,
        resource: SharedResource,
        filter: Option<EventFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<SharingChangeConnection> {
        let filter = EventFilterInput::into_store(ctx, filter, "filter")?;
        let page = newest_first(ctx, first, after)?;
        let rows = store(ctx)
            .sharing_changes_page(resource, &filter, &page)
            .await
            .or_internal()?;
        Ok(SharingChangeConnection::new(rows, resource, filter))
    }
}

#[Object]
impl SharingQuery {
    /// Every `update session sharing status` event matching `filter` as a typed change,
    /// newest first.
    #[graphql(complexity = "crate::graphql::query::page_cost(first, None, child_complexity)")]
    async fn session_sharing_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which events count: every condition given must hold (see EventFilter); none means every event the token may read."
        )]
        filter: Option<EventFilterInput>,
        #[graphql(
            desc = "How many items to return from the start of the list (default 50, at most --max-page-size)."
        )]
        first: Option<i32>,
        #[graphql(desc = "A cursor from a previous page (`endCursor`): the page starts after it.")]
        after: Option<String>,
    ) -> async_graphql::Result<SharingChangeConnection> {
        Self::changes(ctx, SharedResource::Session, filter, first, after).await
    }

    /// Every `job sharing updated` event matching `filter` as a typed change, newest first.
    #[graphql(complexity = "crate::graphql::query::page_cost(first, None, child_complexity)")]
    async fn job_sharing_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which events count: every condition given must hold (see EventFilter); none means every event the token may read."
        )]
        filter: Option<EventFilterInput>,
        #[graphql(
            desc = "How many items to return from the start of the list (default 50, at most --max-page-size)."
        )]
        first: Option<i32>,
        #[graphql(desc = "A cursor from a previous page (`endCursor`): the page starts after it.")]
        after: Option<String>,
    ) -> async_graphql::Result<SharingChangeConnection> {
        Self::changes(ctx, SharedResource::Job, filter, first, after).await
    }

    /// The sessions and jobs whose latest sharing change at or before `asOf` (default: now)
    /// set one of `statuses`: who set it and since when, newest first. A latest change that
    /// does not say what it set leaves the resource unlisted. `statuses` null means the
    /// default. `limit` keeps the newest that many. At most `--max-report-rows` rows, shared
    /// with the request's other reports; past it, `LIMIT_EXCEEDED`.
    async fn sharing_exposure(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The moment the exposure is taken at (default: now): the latest change at or before it counts."
        )]
        as_of: Option<DateTime>,
        #[graphql(
            default_with = "Some(vec![SharingStatus::AnonymousLink, SharingStatus::AuthenticatedLink])",
            desc = "Which statuses to list (default: the two link statuses, ANONYMOUS_LINK and AUTHENTICATED_LINK)."
        )]
        statuses: Option<Vec<SharingStatus>>,
        #[graphql(desc = "At most this many resources (at most --max-report-rows).")] limit: Option<
            i32,
        >,
    ) -> async_graphql::Result<Vec<SharingExposure>> {
        crate::graphql::access::require_everything(ctx, "the sharing exposure")?;
        let limit = match limit {
            None => None,
            Some(n) if n < 1 => {
                return Err(bad_input("limit", format!("must be at least 1, got {n}")));
            }
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let as_of = as_of.map_or_else(|| chrono::Utc::now().naive_utc(), |t| t.0);
        // Null (as an unset variable arrives) means the default: the open links.
        let statuses = statuses.unwrap_or_else(|| {
            vec![
                SharingStatus::AnonymousLink,
                SharingStatus::AuthenticatedLink,
            ]
        });
        let budget = ReportRows::of(ctx);
        let _turn = budget.turn().await;
        let ask = limit.map_or(budget.ask(), |limit| limit.min(budget.ask()));
        let rows = store(ctx)
            .sharing_exposure(as_of, &statuses, ask)
            .await
            .or_internal()?;
        budget.spend(rows.len())?;
        Ok(rows.into_iter().filter_map(SharingExposure::new).collect())
    }
}
