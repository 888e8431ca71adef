//! `events` and `event`.

use async_graphql::{Context, ID, Object};

use super::page_request;
use crate::graphql::error::bad_input;
use crate::graphql::error::{OrInternal, store};
use crate::graphql::types::{Event, EventConnection, EventFilterInput, SortOrderInput};

/// Lists of events and single events.
#[derive(Default)]
pub struct EventsQuery;

#[Object]
impl EventsQuery {
    /// Events matching `filter`, ordered by `(createdAt, id)`, newest first unless
    /// `order: ASC`; a Relay connection with opaque cursors. `first` defaults to 50, at most
    /// 1000.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::query::page_cost(first, last, child_complexity)")]
    async fn events(
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
        #[graphql(desc = "How many items to return from the end of the list (with `before`).")]
        last: Option<i32>,
        #[graphql(
            desc = "A cursor from a previous page (`startCursor`): the page ends before it."
        )]
        before: Option<String>,
        #[graphql(
            default,
            desc = "DESC (default) lists the newest first, ASC the oldest first."
        )]
        order: SortOrderInput,
    ) -> async_graphql::Result<EventConnection> {
        let filter = EventFilterInput::into_store(ctx, filter, "filter")?;
        let page = page_request(
            crate::graphql::query::max_page(ctx),
            first,
            after,
            last,
            before,
            order.into(),
        )?;
        let rows = store(ctx).events_page(&filter, &page).await.or_internal()?;
        Ok(EventConnection::new(rows, filter))
    }

    /// The id up to which this server has published new events: `eventCreated(after:
    /// lastEventId)` then delivers every event stored later, each once, with nothing missed
    /// between this answer and the subscription. "0" when there are none.
    async fn last_event_id(&self, ctx: &Context<'_>) -> async_graphql::Result<ID> {
        let id = match ctx.data_opt::<crate::live::Live>() {
            Some(live) => live.watermark(),
            None => store(ctx).max_id().await.or_internal()?,
        };
        // For a token bound to a user, its own newest event up to there: the log's other
        // events do not exist for it (and how fast they come is not its business).
        let principal = crate::graphql::access::require_read(ctx)?;
        let id = match principal.visible_users(None) {
            None => id,
            Some(users) => {
                let own = crate::store::EventFilter {
                    user_ids: Some(users),
                    ..crate::store::EventFilter::default()
                };
                store(ctx).max_id_matching(&own, id).await.or_internal()?
            }
        };
        Ok(ID(id.to_string()))
    }

    /// One event by id; null when there is none.
    async fn event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event's id, as `Event.id` gives it.")] id: ID,
    ) -> async_graphql::Result<Option<Event>> {
        let id: i64 = id
            .parse()
            .map_err(|_| bad_input("id", format!("{:?} is not an event id", id.as_str())))?;
        let row = store(ctx).event(id).await.or_internal()?;
        // A token bound to a user finds its own events only.
        let principal = crate::graphql::access::require_read(ctx)?;
        Ok(row
            .filter(|row| principal.sees_event_of(row.user_id))
            .map(Event::from))
    }
}
