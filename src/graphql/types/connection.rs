//! `EventConnection`: a Relay connection over `(createdAt, id)` keyset pages.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};

use std::collections::HashMap;

use uuid::Uuid;

use super::event::page_users;
use super::flat::{Flat, FlatOne, Plain};
use super::leaf::{PlainFields, WriteField, optional_text, value};
use super::{Event, User};
use crate::graphql::error::{OrInternal, store};
use crate::store::{EventFilter, EventRow, Page};

/// A page of events.
pub struct EventConnection {
    rows: Vec<Arc<EventRow>>,
    has_next: bool,
    has_previous: bool,
    filter: EventFilter,
}

impl EventConnection {
    /// Wraps a page; `filter` is kept for `totalCount`.
    pub fn new(page: Page, filter: EventFilter) -> Self {
        EventConnection {
            rows: page.rows.into_iter().map(Arc::new).collect(),
            has_next: page.has_next,
            has_previous: page.has_previous,
            filter,
        }
    }
}

/// One event and its cursor.
pub struct EventEdge(Arc<EventRow>, Option<Arc<HashMap<Uuid, User>>>);

/// The cursor of a row, for `after` / `before`: what every edge and page of events answers.
pub fn cursor(row: &EventRow) -> String {
    row.cursor().encode()
}

/// One event and its cursor.
#[Object]
impl EventEdge {
    /// Where this event stands, for `after` / `before`.
    async fn cursor(&self) -> String {
        cursor(&self.0)
    }
    /// The event.
    async fn node(&self) -> FlatOne<Event> {
        FlatOne(Event::with_users(self.0.clone(), self.1.clone()))
    }
}

impl Plain for EventEdge {
    const WAITS: bool = true;
}

/// Where a page stands in the whole list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page.
    pub has_previous_page: bool,
    /// The first edge's cursor.
    pub start_cursor: Option<String>,
    /// The last edge's cursor.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// Where a page of event rows stands.
    pub fn of_rows(rows: &[Arc<EventRow>], has_next: bool, has_previous: bool) -> PageInfo {
        PageInfo {
            has_next_page: has_next,
            has_previous_page: has_previous,
            start_cursor: rows.first().map(|r| cursor(r)),
            end_cursor: rows.last().map(|r| cursor(r)),
        }
    }
}

impl PlainFields for PageInfo {
    fn plain_field(name: &str) -> Option<WriteField<PageInfo>> {
        Some(match name {
            "hasNextPage" => |p, w| value(w, p.has_next_page),
            "hasPreviousPage" => |p, w| value(w, p.has_previous_page),
            "startCursor" => |p, w| optional_text(w, p.start_cursor.as_deref()),
            "endCursor" => |p, w| optional_text(w, p.end_cursor.as_deref()),
            _ => return None,
        })
    }
}

/// A page of events.
#[Object]
impl EventConnection {
    /// The page's events with their cursors.
    async fn edges(&self, ctx: &Context<'_>) -> async_graphql::Result<Flat<EventEdge>> {
        let selected = ctx.look_ahead().field("node").field("user").exists();
        let users = page_users(ctx, &self.rows, selected).await?;
        Ok(self
            .rows
            .iter()
            .map(|row| EventEdge(row.clone(), users.clone()))
            .collect())
    }
    /// The page's events.
    async fn nodes(&self, ctx: &Context<'_>) -> async_graphql::Result<Flat<Event>> {
        let users = page_users(ctx, &self.rows, ctx.look_ahead().field("user").exists()).await?;
        Ok(self
            .rows
            .iter()
            .map(|row| Event::with_users(row.clone(), users.clone()))
            .collect())
    }
    /// Where this page stands.
    async fn page_info(&self) -> PageInfo {
        PageInfo::of_rows(&self.rows, self.has_next, self.has_previous)
    }
    /// How many events match the filter in all (counted only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        store(ctx).count_events(&self.filter).await.or_internal()
    }
}
