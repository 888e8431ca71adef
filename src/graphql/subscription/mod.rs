//! `eventCreated`: new events as they are stored, after a replay of those above `after`.

use async_graphql::futures_util::{Stream, StreamExt};
use async_graphql::{Context, ErrorExtensions, ID, Subscription};

use crate::graphql::error::{bad_input, internal, store};
use crate::graphql::types::{Event, EventFilterInput};
use crate::live::{Delivery, Live};

/// Error code of a subscription cut off for falling behind.
pub const LAGGED: &str = "LIMIT_EXCEEDED";

/// Live events.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Live events: each stored event as it is stored.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Events matching `filter` as they are stored, whoever writes them, in id order, each
    /// once. With `after`, every stored event with a larger id comes first. A subscriber that
    /// falls too far behind gets a `LIMIT_EXCEEDED` error whose `extensions.lastId` is where to
    /// resume (`after: lastId`), and its subscription ends.
    async fn event_created(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which new events are sent (see EventFilter); `from` and `to` are ignored for live events."
        )]
        filter: Option<EventFilterInput>,
        #[graphql(
            desc = "An event id: every stored event with a larger id is sent first, then new ones (resume from `extensions.lastId`)."
        )]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Event>> + use<>> {
        let filter = EventFilterInput::into_store(ctx, filter, "filter")?;
        let after = after
            .map(|id| {
                id.parse::<i64>().map_err(|_| {
                    bad_input("after", format!("{:?} is not an event id", id.as_str()))
                })
            })
            .transpose()?;
        let token = crate::graphql::access::require_read(ctx)?.token.clone();
        let slot = ctx
            .data_opt::<crate::graphql::limits::SubscriptionSlots>()
            .map(|slots| slots.take())
            .transpose()?;
        let live = ctx.data_unchecked::<Live>().clone();
        let stream = live.subscribe(store(ctx).clone(), filter, after);
        let events = stream
            .take_while(|item| std::future::ready(!matches!(item, Ok(Delivery::Closed))))
            .map(|item| match item {
                Ok(Delivery::Event(row)) => Ok(Event::new(row)),
                Ok(Delivery::Lagged { last_id }) => Err(async_graphql::Error::new(format!(
                    "the subscriber fell behind; resume with after: \"{last_id}\""
                ))
                .extend_with(|_, e| {
                    e.set("code", LAGGED);
                    e.set("lastId", last_id.to_string());
                })),
                Ok(Delivery::Closed) => Err(async_graphql::Error::new("closed")),
                Err(error) => Err(internal(error)),
            });
        // A subscription made with a token ends when the token is revoked.
        Ok(async_stream::stream! {
            let _open = crate::observe::OpenSubscription::new();
            let _slot = slot;
            let mut events = std::pin::pin!(events);
            let revoked = async {
                match &token {
                    Some(name) => live.revoked(name).await,
                    None => std::future::pending().await,
                }
            };
            let mut revoked = std::pin::pin!(revoked);
            loop {
                tokio::select! {
                    item = events.next() => match item {
                        Some(item) => yield item,
                        None => break,
                    },
                    () = &mut revoked => {
                        yield Err(async_graphql::Error::new("the token was revoked")
                            .extend_with(|_, e| e.set("code", "UNAUTHENTICATED")));
                        break;
                    }
                }
            }
        })
    }
}
