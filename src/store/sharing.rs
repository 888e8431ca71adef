//! Sharing-status changes of sessions and jobs, and which resources were exposed at a moment.

use chrono::NaiveDateTime;
use sea_orm::ConnectionTrait;

use super::events::{COLUMNS, EventColumns};
use super::filter::EventFilter;
use super::report::row_limit;
use super::sql::Sql;
use super::{EventRow, Page, PageRequest, Store, StoreError};
use crate::details::SharingStatus;

/// What a sharing change is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SharedResource {
    /// Sessions (`update session sharing status`, resource `session_id`).
    Session,
    /// Jobs (`job sharing updated`, resource `job_id`).
    Job,
}

impl SharedResource {
    /// Both kinds of resource.
    pub const ALL: [SharedResource; 2] = [SharedResource::Session, SharedResource::Job];

    /// The event that records a change.
    pub fn event_names(self) -> &'static [&'static str] {
        match self {
            SharedResource::Session => &["update session sharing status"],
            SharedResource::Job => &["job sharing updated"],
        }
    }

    /// The description key that names the resource.
    pub fn id_key(self) -> &'static str {
        match self {
            SharedResource::Session => "session_id",
            SharedResource::Job => "job_id",
        }
    }

    /// The resource kind of an event name, if it records a sharing change.
    pub fn of_event(name: &str) -> Option<SharedResource> {
        Self::ALL
            .into_iter()
            .find(|r| r.event_names().contains(&name))
    }
}

/// A resource whose latest sharing change, at some moment, left it at a status.
#[derive(Clone, Debug, PartialEq)]
pub struct Exposure {
    /// Session or job.
    pub resource: SharedResource,
    /// The resource's id as the description gives it.
    pub resource_id: String,
    /// The latest change (its time, who made it, and the status it set).
    pub change: EventRow,
}

impl Store {
    /// Sharing changes of one kind of resource matching `filter`, keyset-paged like events.
    pub async fn sharing_changes_page(
        &self,
        resource: SharedResource,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        let filter = EventFilter {
            within_names: Some(resource.event_names()),
            ..filter.clone()
        };
        self.events_page(&filter, page).await
    }

    /// How many sharing changes of one kind of resource match `filter`.
    pub async fn count_sharing_changes(
        &self,
        resource: SharedResource,
        filter: &EventFilter,
    ) -> Result<i64, StoreError> {
        let filter = EventFilter {
            within_names: Some(resource.event_names()),
            ..filter.clone()
        };
        self.count_events(&filter).await
    }

    /// Per session and job, the latest change at or before `as_of`; the resources whose latest
    /// change set one of `statuses`, newest change first. A latest change that does not say
    /// what it set leaves the resource unlisted. At most the newest `max_rows` resources.
    pub async fn sharing_exposure(
        &self,
        as_of: NaiveDateTime,
        statuses: &[SharingStatus],
        max_rows: usize,
    ) -> Result<Vec<Exposure>, StoreError> {
        if statuses.is_empty() || max_rows == 0 {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = SharedResource::ALL
            .iter()
            .flat_map(|r| r.event_names().iter().copied())
            .collect();
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT ")
            .push(COLUMNS)
            .push(
                ", rid FROM (SELECT c.*, ROW_NUMBER() OVER (PARTITION BY event_name, rid \
                   ORDER BY created_at DESC, id DESC) AS rn FROM (SELECT ",
            )
            .push(COLUMNS)
            .push(", ");
        self.push_resource_id(&mut sql);
        sql.push(" AS rid, ");
        self.push_json_text(&mut sql, "to");
        sql.push(" AS st FROM user_events");
        sql.push(
            &self
                .dialect
                .parsed_description("description", None, "parsed"),
        );
        sql.push(" WHERE event_name IN ").bind_list(names);
        sql.push(" AND created_at <= ")
            .bind(self.dialect.time(as_of));
        sql.push(") AS c WHERE rid IS NOT NULL) AS latest WHERE rn = 1 AND st IN ");
        sql.bind_list(
            statuses
                .iter()
                .flat_map(|s| s.spellings())
                .map(str::to_ascii_uppercase),
        );
        sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .bind(row_limit(max_rows));
        let rows = self.db.query_all_raw(sql.into_statement()).await?;
        let mut out = Vec::with_capacity(rows.len());
        let columns = match rows.first() {
            Some(first) => EventColumns::of(first)?,
            None => return Ok(out),
        };
        for row in &rows {
            let change = columns.read(row)?;
            let Some(resource) = SharedResource::of_event(&change.event_name) else {
                continue;
            };
            let resource_id: String = row.try_get_by_index(7)?;
            out.push(Exposure {
                resource,
                resource_id,
                change,
            });
        }
        Ok(out)
    }

    /// The resource id of a sharing change: the integer or string under its id key.
    fn push_resource_id(&self, sql: &mut Sql) {
        sql.push("(CASE");
        for resource in SharedResource::ALL {
            let key = resource.id_key();
            for name in resource.event_names() {
                sql.push(&format!(" WHEN event_name = '{name}' THEN "));
                sql.push(&self.dialect.json_id("description", key));
            }
        }
        sql.push(" END)");
    }

    /// A string key of the description, trimmed and upper-cased; NULL when absent.
    fn push_json_text(&self, sql: &mut Sql, key: &str) {
        sql.push(&format!(
            "upper(trim({}))",
            self.dialect.json_string("description", key)
        ));
    }
}
