//! `Event`: one row of the audit log.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};

use super::{User, UserLoader};
use crate::graphql::error::internal_shared;

use super::EventDetails;
use super::leaf::{PlainFields, WriteField, text, value};
use crate::catalog::{EventCategory, EventKind};
use crate::details::Details;
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::store::EventRow;
use uuid::Uuid;

/// One tracked user event.
#[derive(Clone)]
pub struct Event {
    row: Arc<EventRow>,
    /// The users of the page this event came with, loaded in one batch when selected.
    users: Option<Arc<HashMap<Uuid, User>>>,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Event::new(Arc::new(row))
    }
}

impl Event {
    /// An event on its own: its user is loaded through the batching loader when asked for.
    pub fn new(row: Arc<EventRow>) -> Event {
        Event { row, users: None }
    }

    /// An event whose page's users are already loaded.
    pub fn with_users(row: Arc<EventRow>, users: Option<Arc<HashMap<Uuid, User>>>) -> Event {
        Event { row, users }
    }
}

/// Loads the users of a page of rows in one batch, when `selected`.
pub async fn page_users(
    ctx: &Context<'_>,
    rows: &[Arc<EventRow>],
    selected: bool,
) -> async_graphql::Result<Option<Arc<HashMap<Uuid, User>>>> {
    if !selected {
        return Ok(None);
    }
    let mut ids: Vec<Uuid> = rows.iter().filter_map(|r| r.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let users = ctx
        .data_unchecked::<DataLoader<UserLoader>>()
        .load_many(ids)
        .await
        .map_err(internal_shared)?;
    Ok(Some(Arc::new(users)))
}

/// What each plain field of an event means, defined once: its resolver returns it, and the
/// direct path ([`crate::graphql::fast`]) writes it through [`PlainFields`].
mod meaning {
    use super::*;

    pub fn id(row: &EventRow) -> ID {
        ID(row.id.to_string())
    }
    pub fn user_id(row: &EventRow) -> Option<UuidValue> {
        row.user_id.map(UuidValue)
    }
    pub fn ip_address(row: &EventRow) -> &str {
        &row.ipaddr
    }
    pub fn internal(row: &EventRow) -> bool {
        row.ipaddr == crate::store::INTERNAL_ADDRESS
    }
    pub fn user_agent(row: &EventRow) -> &str {
        &row.user_agent
    }
    pub fn event_name(row: &EventRow) -> &str {
        &row.event_name
    }
    pub fn kind(row: &EventRow) -> EventKind {
        EventKind::from_name(&row.event_name)
    }
    pub fn category(row: &EventRow) -> EventCategory {
        kind(row).category()
    }
    pub fn description(row: &EventRow) -> &str {
        &row.description
    }
    pub fn created_at(row: &EventRow) -> DateTime {
        DateTime(row.created_at)
    }
}

impl PlainFields for Event {
    fn plain_field(name: &str) -> Option<WriteField<Event>> {
        Some(match name {
            "id" => |e, w| value(w, meaning::id(&e.row)),
            "userId" => |e, w| value(w, meaning::user_id(&e.row)),
            "ipAddress" => |e, w| text(w, meaning::ip_address(&e.row)),
            "internal" => |e, w| value(w, meaning::internal(&e.row)),
            "userAgent" => |e, w| text(w, meaning::user_agent(&e.row)),
            "eventName" => |e, w| text(w, meaning::event_name(&e.row)),
            "kind" => |e, w| value(w, meaning::kind(&e.row)),
            "category" => |e, w| value(w, meaning::category(&e.row)),
            "description" => |e, w| text(w, meaning::description(&e.row)),
            "createdAt" => |e, w| value(w, meaning::created_at(&e.row)),
            _ => return None,
        })
    }
}

// Its user waits at most once per page: a page loads its users in one batch before its events
// are resolved, and an event on its own loads its user through the batching loader.
impl super::flat::Plain for Event {
    const WAITS: bool = true;
}

/// One tracked user event.
#[Object]
impl Event {
    /// The row id.
    async fn id(&self) -> ID {
        meaning::id(&self.row)
    }

    /// The acting user; null for some internal components.
    async fn user_id(&self) -> Option<UuidValue> {
        meaning::user_id(&self.row)
    }

    /// The acting user, loaded in batches with the rest of the response.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.row.user_id else {
            return Ok(None);
        };
        // A user's summary spans their whole history: null for a role that may not read it
        // (an ingest token reading back what it recorded) and for another user of a self token.
        let readable = ctx
            .data_opt::<crate::auth::Principal>()
            .is_some_and(|principal| principal.may_read() && principal.sees_user(id));
        if !readable {
            return Ok(None);
        }
        if let Some(users) = &self.users {
            return Ok(users.get(&id).cloned());
        }
        ctx.data_unchecked::<DataLoader<UserLoader>>()
            .load_one(id)
            .await
            .map_err(internal_shared)
    }

    /// The address of the user or component.
    async fn ip_address(&self) -> &str {
        meaning::ip_address(&self.row)
    }

    /// Whether an internal component acted (address `127.0.0.1`).
    async fn internal(&self) -> bool {
        meaning::internal(&self.row)
    }

    /// The client's user agent.
    async fn user_agent(&self) -> &str {
        meaning::user_agent(&self.row)
    }

    /// The event name, exactly as logged.
    async fn event_name(&self) -> &str {
        meaning::event_name(&self.row)
    }

    /// The event's kind (`UNKNOWN` for names the catalog does not list).
    async fn kind(&self) -> EventKind {
        meaning::kind(&self.row)
    }

    /// The event's category (`OTHER` for names the catalog does not list).
    async fn category(&self) -> EventCategory {
        meaning::category(&self.row)
    }

    /// The raw description, unchanged.
    async fn description(&self) -> &str {
        meaning::description(&self.row)
    }

    /// What the description says, parsed into typed fields.
    async fn details(&self) -> EventDetails {
        EventDetails(Details::parse(&self.row.description))
    }

    /// When it happened.
    async fn created_at(&self) -> DateTime {
        meaning::created_at(&self.row)
    }
}
