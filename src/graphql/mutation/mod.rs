//! Mutations: `recordEvent` and `recordEvents`, for writers that record events through the API.
//!
//! Every input is checked before anything is written, and a batch is one transaction: bad input
//! leaves the table as it was.

use async_graphql::{Context, InputObject, Object};
use chrono::{Duration, Utc};

use crate::catalog::EventKind;
use crate::graphql::error::{OrInternal, bad_input, store};
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::graphql::types::Event;
use crate::store::{NewEventRow, accepted_instant};

/// The most events one `recordEvents` call may write.
pub const MAX_BATCH: usize = 1000;
/// The longest description accepted, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;
/// The longest user agent accepted, in bytes.
pub const MAX_USER_AGENT_BYTES: usize = 2048;
/// How far ahead of the server's clock `createdAt` may be.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// An event to record.
#[derive(InputObject, Clone, Debug)]
#[graphql(name = "NewEvent")]
pub struct NewEventInput {
    /// The acting user; omit for internal components.
    pub user_id: Option<UuidValue>,
    /// The user's or component's IP address (`127.0.0.1` for an internal component).
    pub ip_address: String,
    /// The client's user agent.
    pub user_agent: String,
    /// One of the tracked event names of `eventCatalog`.
    pub event_name: String,
    /// Usually a JSON object with the keys the event documents; plain text is kept as it is.
    pub description: String,
    /// When it happened; defaults to now, and may not lie more than five minutes ahead.
    pub created_at: Option<DateTime>,
}

impl NewEventInput {
    /// Checks every field; `path` names the input in errors (`input`, `inputs.3`).
    fn validate(self, path: &str) -> async_graphql::Result<NewEventRow> {
        let field = |name: &str| format!("{path}.{name}");
        let ip = self.ip_address.trim();
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(bad_input(
                &field("ipAddress"),
                format!("{ip:?} is not an IPv4 or IPv6 address"),
            ));
        }
        if self.user_agent.len() > MAX_USER_AGENT_BYTES {
            return Err(bad_input(
                &field("userAgent"),
                format!("at most {MAX_USER_AGENT_BYTES} bytes"),
            ));
        }
        if EventKind::from_name(&self.event_name) == EventKind::Unknown {
            return Err(bad_input(
                &field("eventName"),
                format!(
                    "{:?} is not a tracked event name; eventCatalog lists them",
                    self.event_name
                ),
            ));
        }
        if self.description.len() > MAX_DESCRIPTION_BYTES {
            return Err(bad_input(
                &field("description"),
                format!("at most {MAX_DESCRIPTION_BYTES} bytes"),
            ));
        }
        let now = Utc::now().naive_utc();
        let created_at = self.created_at.map_or(now, |t| t.0);
        // The scalar admits only the accepted range; the rule is applied again here, where the
        // row is made, since a default (the clock) does not pass through the scalar.
        let created_at =
            accepted_instant(created_at).map_err(|error| bad_input(&field("createdAt"), error))?;
        let latest = now
            .checked_add_signed(Duration::seconds(MAX_CLOCK_SKEW_SECONDS))
            .unwrap_or(now);
        if created_at > latest {
            return Err(bad_input(
                &field("createdAt"),
                format!(
                    "{} lies in the future; at most {MAX_CLOCK_SKEW_SECONDS} s ahead of the server's clock",
                    DateTime(created_at).to_rfc3339()
                ),
            ));
        }
        Ok(NewEventRow {
            user_id: self.user_id.map(|u| u.0),
            ipaddr: ip.to_string(),
            user_agent: self.user_agent,
            event_name: self.event_name,
            description: self.description,
            created_at,
        })
    }
}

/// Tells this process's live feed that rows just committed, so subscribers see them at once.
fn nudge(ctx: &Context<'_>) {
    if let Some(live) = ctx.data_opt::<crate::live::Live>() {
        live.nudge();
    }
}

/// Writing events.
#[derive(Default)]
pub struct MutationRoot;

/// Writing events: one, or many in one transaction.
#[Object(name = "Mutation")]
impl MutationRoot {
    /// Records one event and returns it as stored.
    async fn record_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event to record; `createdAt` defaults to now.")] input: NewEventInput,
    ) -> async_graphql::Result<Event> {
        let row = input.validate("input")?;
        let mut stored = store(ctx).record_events(&[row]).await.or_internal()?;
        nudge(ctx);
        stored
            .pop()
            .map(Event::from)
            .ok_or_else(|| crate::graphql::error::internal_message("no row came back"))
    }

    /// Records events, all or nothing, and returns them as stored, in the order given.
    async fn record_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The events to record, in order, all or none (at most --max-batch-events)."
        )]
        inputs: Vec<NewEventInput>,
    ) -> async_graphql::Result<Vec<Event>> {
        if inputs.len() > MAX_BATCH {
            return Err(bad_input(
                "inputs",
                format!("at most {MAX_BATCH} events a call, got {}", inputs.len()),
            ));
        }
        let rows = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| input.validate(&format!("inputs.{i}")))
            .collect::<async_graphql::Result<Vec<NewEventRow>>>()?;
        let stored = store(ctx).record_events(&rows).await.or_internal()?;
        nudge(ctx);
        Ok(stored.into_iter().map(Event::from).collect())
    }
}
