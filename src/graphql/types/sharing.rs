//! Sharing-status changes as typed changes, and the exposure report.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};

use super::leaf::{PlainFields, WriteField, optional_text, value};
use super::{Event, PageInfo};
use crate::catalog::EventKind;
use crate::details::{Details, SharingStatus};
use crate::graphql::error::{OrInternal, store};
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::store::{EventFilter, EventRow, Exposure, Page, SharedResource};

/// One change of a session's or job's sharing status; null where the description does not say.
#[derive(SimpleObject)]
pub struct SharingChange {
    /// The event that recorded the change.
    pub event: Event,
    /// When the status changed.
    pub at: DateTime,
    /// Who changed it.
    pub user_id: Option<UuidValue>,
    /// The session or job (`session_id` / `job_id` of the description).
    pub resource_id: Option<String>,
    /// The status before.
    pub from: Option<SharingStatus>,
    /// The status after.
    pub to: Option<SharingStatus>,
}

impl SharingChange {
    /// The change an event of `resource` records, read from its description.
    pub fn new(row: Arc<EventRow>, resource: SharedResource) -> SharingChange {
        let details = Details::parse(&row.description);
        let resource_id = match resource {
            SharedResource::Session => details.session_id,
            SharedResource::Job => details.job_id,
        };
        let sharing = details.sharing.unwrap_or_default();
        SharingChange {
            at: DateTime(row.created_at),
            user_id: row.user_id.map(UuidValue),
            resource_id,
            from: sharing.from,
            to: sharing.to,
            event: Event::new(row),
        }
    }
}

impl PlainFields for SharingChange {
    fn plain_field(name: &str) -> Option<WriteField<SharingChange>> {
        Some(match name {
            "at" => |c, w| value(w, c.at),
            "userId" => |c, w| value(w, c.user_id),
            "resourceId" => |c, w| optional_text(w, c.resource_id.as_deref()),
            "from" => |c, w| value(w, c.from),
            "to" => |c, w| value(w, c.to),
            _ => return None,
        })
    }
}

/// A change and its cursor.
#[derive(SimpleObject)]
pub struct SharingChangeEdge {
    /// Where this change stands, for `after`.
    pub cursor: String,
    /// The change.
    pub node: SharingChange,
}

/// A page of sharing changes, newest first.
pub struct SharingChangeConnection {
    rows: Vec<Arc<EventRow>>,
    has_next: bool,
    has_previous: bool,
    resource: SharedResource,
    filter: EventFilter,
}

impl SharingChangeConnection {
    /// Wraps a page of change events; `filter` is kept for `totalCount`.
    pub fn new(page: Page, resource: SharedResource, filter: EventFilter) -> Self {
        SharingChangeConnection {
            rows: page.rows.into_iter().map(Arc::new).collect(),
            has_next: page.has_next,
            has_previous: page.has_previous,
            resource,
            filter,
        }
    }
}

/// A page of sharing changes, newest first.
#[Object]
impl SharingChangeConnection {
    /// The page's changes with their cursors.
    async fn edges(&self) -> Vec<SharingChangeEdge> {
        self.rows
            .iter()
            .map(|row| SharingChangeEdge {
                cursor: super::connection::cursor(row),
                node: SharingChange::new(row.clone(), self.resource),
            })
            .collect()
    }
    /// The page's changes.
    async fn nodes(&self) -> Vec<SharingChange> {
        self.rows
            .iter()
            .map(|row| SharingChange::new(row.clone(), self.resource))
            .collect()
    }
    /// Where this page stands.
    async fn page_info(&self) -> PageInfo {
        PageInfo::of_rows(&self.rows, self.has_next, self.has_previous)
    }
    /// How many changes match the filter in all (counted only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        store(ctx)
            .count_sharing_changes(self.resource, &self.filter)
            .await
            .or_internal()
    }
}

/// A session or job left open at some moment: its latest change set this status.
#[derive(SimpleObject)]
pub struct SharingExposure {
    /// `UPDATE_SESSION_SHARING_STATUS` (a session) or `JOB_SHARING_UPDATED` (a job).
    pub kind: EventKind,
    /// The session or job.
    pub resource_id: String,
    /// The status its latest change set.
    pub status: SharingStatus,
    /// When that change was made.
    pub since: DateTime,
    /// Who made it.
    pub set_by: Option<UuidValue>,
    /// The change's event.
    pub event: Event,
}

impl SharingExposure {
    /// The report row of an exposure; `None` if its status cannot be read (the store selected
    /// it by that status, so this does not happen).
    pub fn new(exposure: Exposure) -> Option<SharingExposure> {
        let row = exposure.change;
        let status = Details::parse(&row.description).sharing?.to?;
        Some(SharingExposure {
            kind: EventKind::from_name(&row.event_name),
            resource_id: exposure.resource_id,
            status,
            since: DateTime(row.created_at),
            set_by: row.user_id.map(UuidValue),
            event: Event::from(row),
        })
    }
}
