//! `Event`: one row of the audit log.

use std::sync::Arc;

use async_graphql::{ID, Object};

use super::EventDetails;
use crate::catalog::{EventCategory, EventKind};
use crate::details::Details;
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::store::EventRow;

/// One tracked user event.
#[derive(Clone)]
pub struct Event(pub Arc<EventRow>);

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Event(Arc::new(row))
    }
}

/// One tracked user event.
#[Object]
impl Event {
    /// The row id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The acting user; null for some internal components.
    async fn user_id(&self) -> Option<UuidValue> {
        self.0.user_id.map(UuidValue)
    }

    /// The address of the user or component.
    async fn ip_address(&self) -> &str {
        &self.0.ipaddr
    }

    /// Whether an internal component acted (address `127.0.0.1`).
    async fn internal(&self) -> bool {
        self.0.ipaddr == crate::store::INTERNAL_ADDRESS
    }

    /// The client's user agent.
    async fn user_agent(&self) -> &str {
        &self.0.user_agent
    }

    /// The event name, exactly as logged.
    async fn event_name(&self) -> &str {
        &self.0.event_name
    }

    /// The event's kind (`UNKNOWN` for names the catalog does not list).
    async fn kind(&self) -> EventKind {
        EventKind::from_name(&self.0.event_name)
    }

    /// The event's category (`OTHER` for names the catalog does not list).
    async fn category(&self) -> EventCategory {
        EventKind::from_name(&self.0.event_name).category()
    }

    /// The raw description, unchanged.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// What the description says, parsed into typed fields.
    async fn details(&self) -> EventDetails {
        EventDetails(Details::parse(&self.0.description))
    }

    /// When it happened.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}
