//! `EventType` (a catalog entry) and `CategoryCount`.

use async_graphql::{Object, SimpleObject};

use crate::catalog::{EventCategory, EventKind, EventType};

/// A tracked event as the product documentation describes it.
pub struct EventTypeInfo(pub &'static EventType);

/// A tracked event as the product documentation describes it.
#[Object(name = "EventType")]
impl EventTypeInfo {
    /// The enum value.
    async fn kind(&self) -> EventKind {
        self.0.kind
    }
    /// The exact `event_name` the platform writes.
    async fn name(&self) -> &'static str {
        self.0.name
    }
    /// The category.
    async fn category(&self) -> EventCategory {
        self.0.category
    }
    /// The documentation's text (empty where it has none).
    async fn documentation(&self) -> &'static str {
        self.0.documentation
    }
    /// Whether the description reports resource usage (cpu, memory, gpu).
    async fn reports_resource_usage(&self) -> bool {
        self.0.reports_resource_usage
    }
}

/// How many events fell in one category.
#[derive(SimpleObject)]
pub struct CategoryCount {
    /// The category.
    pub category: EventCategory,
    /// Events in it.
    pub count: i64,
}

impl super::flat::Plain for EventTypeInfo {}
impl super::flat::Plain for CategoryCount {}
