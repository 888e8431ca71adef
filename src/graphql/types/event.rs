//! `Event`: one row of the audit log.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};

use super::{User, UserLoader};
use crate::graphql::error::internal_shared;

use super::EventDetails;
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

// Its user waits at most once per page: a page loads its users in one batch before its events
// are resolved, and an event on its own loads its user through the batching loader.
impl super::flat::Plain for Event {}

/// One tracked user event.
#[Object]
impl Event {
    /// The row id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// The acting user; null for some internal components.
    async fn user_id(&self) -> Option<UuidValue> {
        self.row.user_id.map(UuidValue)
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
        &self.row.ipaddr
    }

    /// Whether an internal component acted (address `127.0.0.1`).
    async fn internal(&self) -> bool {
        self.row.ipaddr == crate::store::INTERNAL_ADDRESS
    }

    /// The client's user agent.
    async fn user_agent(&self) -> &str {
        &self.row.user_agent
    }

    /// The event name, exactly as logged.
    async fn event_name(&self) -> &str {
        &self.row.event_name
    }

    /// The event's kind (`UNKNOWN` for names the catalog does not list).
    async fn kind(&self) -> EventKind {
        EventKind::from_name(&self.row.event_name)
    }

    /// The event's category (`OTHER` for names the catalog does not list).
    async fn category(&self) -> EventCategory {
        EventKind::from_name(&self.row.event_name).category()
    }

    /// The raw description, unchanged.
    async fn description(&self) -> &str {
        &self.row.description
    }

    /// What the description says, parsed into typed fields.
    async fn details(&self) -> EventDetails {
        EventDetails(Details::parse(&self.row.description))
    }

    /// When it happened.
    async fn created_at(&self) -> DateTime {
        DateTime(self.row.created_at)
    }
}
