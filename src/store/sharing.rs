//! Sharing-status changes of sessions and jobs, and which resources were exposed at a moment.

use chrono::NaiveDateTime;
use entity::user_events::{Column, Entity as UserEvents};
use entity::user_events_sharing::{Column as SharingColumn, Entity as Sharing};
use sea_orm::sea_query::{
    Alias, CaseStatement, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement,
};
use sea_orm::{ConnectionTrait, IdenStatic, Iterable};

use super::events::{EventColumns, RANK, newest_first_per};
use super::filter::EventFilter;
use super::report::row_limit;
use super::{CountSource, Dialect, EventRow, Page, PageRequest, Store, StoreError};
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
        std::slice::from_ref(&migration::SHARING_CHANGES[self.index()].0)
    }

    /// Its entry in the migrations' list of sharing changes (one definition for the server and
    /// the triggers that parse them).
    fn index(self) -> usize {
        match self {
            SharedResource::Session => 0,
            SharedResource::Job => 1,
        }
    }

    /// The description key that names the resource.
    pub fn id_key(self) -> &'static str {
        migration::SHARING_CHANGES[self.index()].1
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
        self.sharing_exposure_from(as_of, statuses, CountSource::Auto, max_rows)
            .await
    }

    /// [`Store::sharing_exposure`], read from the source asked for (both give the same
    /// answer): on PostgreSQL the parsed changes of `user_events_sharing`, newest first, each
    /// kept when no later change of its resource exists up to `as_of`, so the newest exposures
    /// cost a few index probes; otherwise every change, parsed and ranked per resource.
    pub async fn sharing_exposure_from(
        &self,
        as_of: NaiveDateTime,
        statuses: &[SharingStatus],
        source: CountSource,
        max_rows: usize,
    ) -> Result<Vec<Exposure>, StoreError> {
        if statuses.is_empty() || max_rows == 0 {
            return Ok(Vec::new());
        }
        let spellings: Vec<String> = statuses
            .iter()
            .flat_map(|s| s.spellings())
            .map(str::to_ascii_uppercase)
            .collect();
        if source == CountSource::Auto && self.dialect == Dialect::Postgres {
            let (c, d, e) = (Alias::new("c"), Alias::new("d"), Alias::new("e"));
            let at = |table: &Alias, column: SharingColumn| Expr::col((table.clone(), column));
            let later = Query::select()
                .expr(Expr::val(1))
                .from_as(Sharing, d.clone())
                .and_where(at(&d, SharingColumn::EventName).eq(at(&c, SharingColumn::EventName)))
                // The index holds the resource's MD5 (an id may be too long for an index row).
                .and_where(
                    Func::md5(at(&d, SharingColumn::ResourceId))
                        .eq(Func::md5(at(&c, SharingColumn::ResourceId))),
                )
                .and_where(at(&d, SharingColumn::ResourceId).eq(at(&c, SharingColumn::ResourceId)))
                .and_where(at(&d, SharingColumn::CreatedAt).lte(self.dialect.time(as_of)))
                .and_where(
                    Expr::tuple([at(&d, SharingColumn::CreatedAt), at(&d, SharingColumn::Id)]).gt(
                        Expr::tuple([at(&c, SharingColumn::CreatedAt), at(&c, SharingColumn::Id)]),
                    ),
                )
                .to_owned();
            let mut select = Query::select();
            for column in Column::iter() {
                select.column((e.clone(), column));
            }
            select
                .expr_as(at(&c, SharingColumn::ResourceId), Alias::new(RESOURCE))
                .from_as(Sharing, c.clone())
                .join_as(
                    JoinType::InnerJoin,
                    UserEvents,
                    e.clone(),
                    Expr::col((e.clone(), Column::Id)).eq(at(&c, SharingColumn::Id)),
                )
                .and_where(at(&c, SharingColumn::CreatedAt).lte(self.dialect.time(as_of)))
                .and_where(at(&c, SharingColumn::Status).is_in(spellings))
                .and_where(Expr::exists(later).not())
                .order_by((c.clone(), SharingColumn::CreatedAt), Order::Desc)
                .order_by((c, SharingColumn::Id), Order::Desc)
                .limit(row_limit(max_rows).unsigned_abs());
            return self.exposures(&select).await;
        }
        let names: Vec<&str> = SharedResource::ALL
            .iter()
            .flat_map(|r| r.event_names().iter().copied())
            .collect();
        // Each sharing change up to `as_of`: its columns, its resource id and the status it
        // changed to.
        let mut changes = Query::select();
        for column in Column::iter() {
            changes.column((UserEvents, column));
        }
        changes
            .expr_as(self.resource_id(), Alias::new(RESOURCE))
            .expr_as(
                Expr::cust(self.dialect.json_word("description", "to")),
                Alias::new(STATUS),
            )
            .from(UserEvents);
        self.dialect
            .join_parsed_description(&mut changes, "description", None, "parsed");
        changes
            .and_where(Expr::col((UserEvents, Column::EventName)).is_in(names))
            .and_where(Expr::col((UserEvents, Column::CreatedAt)).lte(self.dialect.time(as_of)));
        // Numbered newest first per resource.
        let ranked = newest_first_per(changes, &[Column::EventName.as_str(), RESOURCE])
            .and_where(Expr::col(Alias::new(RESOURCE)).is_not_null())
            .to_owned();
        // The newest change of each resource, where it left the resource in one of `statuses`.
        let mut select = Query::select();
        for column in Column::iter() {
            select.column(column);
        }
        select
            .column(Alias::new(RESOURCE))
            .from_subquery(ranked, Alias::new("latest"))
            .and_where(Expr::col(Alias::new(RANK)).eq(1))
            .and_where(Expr::col(Alias::new(STATUS)).is_in(spellings))
            .order_by(Column::CreatedAt, Order::Desc)
            .order_by(Column::Id, Order::Desc)
            .limit(row_limit(max_rows).unsigned_abs());
        self.exposures(&select).await
    }

    /// The exposures a statement selects: every `user_events` column, and the resource id.
    async fn exposures(&self, select: &SelectStatement) -> Result<Vec<Exposure>, StoreError> {
        let statement = self.dialect.backend().build(select);
        let rows = self.reads().query_all_raw(statement).await?;
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
            let resource_id: String = row.try_get("", RESOURCE)?;
            out.push(Exposure {
                resource,
                resource_id,
                change,
            });
        }
        Ok(out)
    }

    /// The resource id of a sharing change: the integer or string under its id key.
    fn resource_id(&self) -> Expr {
        let mut case = CaseStatement::new();
        for resource in SharedResource::ALL {
            let id = Expr::cust(self.dialect.json_id("description", resource.id_key()));
            for name in resource.event_names() {
                case = case.case(
                    Expr::col((UserEvents, Column::EventName)).eq(*name),
                    id.clone(),
                );
            }
        }
        case.into()
    }
}

/// Names the exposure statement gives: the resource id, the status changed to.
const RESOURCE: &str = "rid";
const STATUS: &str = "st";
