//! The query root: one object per domain, merged.

mod access_log;
mod activity;
mod catalog;
mod events;
mod paging;
mod reports;
mod sharing;
mod users;

use async_graphql::MergedObject;

pub use paging::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageLimit, max_page, newest_first, page_cost, page_request,
    size,
};

/// Every query: reading events, reports, users, sharing and the access log.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    events::EventsQuery,
    catalog::CatalogQuery,
    reports::ReportsQuery,
    activity::ActivityQuery,
    sharing::SharingQuery,
    users::UsersQuery,
    access_log::AccessLogQuery,
);
