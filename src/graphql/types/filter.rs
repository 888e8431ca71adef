//! `EventFilter` and `SortOrder`: the inputs every list and report takes.

use async_graphql::{Enum, InputObject};

use crate::catalog::{EventCategory, EventKind};
use crate::graphql::error::bad_input;
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::store::{EventFilter, SortOrder};

/// The most values one list field of a filter may hold.
pub const MAX_LIST_VALUES: usize = 1000;
/// The longest text a filter's text field may hold.
pub const MAX_TEXT_LENGTH: usize = 1000;

/// Which events to consider. Fields combine with AND; a list matches any of its values (an
/// empty list matches nothing).
#[derive(InputObject, Clone, Debug, Default)]
#[graphql(name = "EventFilter")]
pub struct EventFilterInput {
    /// Events of these categories.
    pub categories: Option<Vec<EventCategory>>,
    /// Events of these kinds (`UNKNOWN`: names the catalog does not list).
    pub kinds: Option<Vec<EventKind>>,
    /// Events with these exact names.
    pub event_names: Option<Vec<String>>,
    /// Events of these users.
    pub user_ids: Option<Vec<UuidValue>>,
    /// Events whose description's `username` is one of these.
    pub usernames: Option<Vec<String>>,
    /// Events from this exact address.
    pub ip_address: Option<String>,
    /// true: internal components only (`127.0.0.1`); false: everything else.
    pub internal: Option<bool>,
    /// Inclusive lower bound.
    pub from: Option<DateTime>,
    /// Exclusive upper bound.
    pub to: Option<DateTime>,
    /// Case-insensitive substring of the description (ASCII letters fold).
    pub search: Option<String>,
}

impl EventFilterInput {
    /// Validates sizes and converts to the store's filter; `argument` names the argument in
    /// errors (`filter`).
    /// A token bound to one user gets the filter narrowed to that user.
    pub fn into_store(
        ctx: &async_graphql::Context<'_>,
        input: Option<EventFilterInput>,
        argument: &str,
    ) -> async_graphql::Result<EventFilter> {
        let mut filter = Self::unscoped(input, argument)?;
        crate::graphql::access::scope(ctx, &mut filter)?;
        Ok(filter)
    }

    /// The filter as given, for callers that serve only principals who read everything.
    pub(crate) fn unscoped(
        input: Option<EventFilterInput>,
        argument: &str,
    ) -> async_graphql::Result<EventFilter> {
        let Some(f) = input else {
            return Ok(EventFilter::default());
        };
        check_len(argument, "categories", f.categories.as_ref())?;
        check_len(argument, "kinds", f.kinds.as_ref())?;
        check_len(argument, "eventNames", f.event_names.as_ref())?;
        check_len(argument, "userIds", f.user_ids.as_ref())?;
        check_len(argument, "usernames", f.usernames.as_ref())?;
        for (field, text) in [
            ("ipAddress", f.ip_address.as_deref()),
            ("search", f.search.as_deref()),
        ] {
            if text.is_some_and(|t| t.chars().count() > MAX_TEXT_LENGTH) {
                return Err(bad_input(
                    &format!("{argument}.{field}"),
                    format!("at most {MAX_TEXT_LENGTH} characters"),
                ));
            }
        }
        Ok(EventFilter {
            categories: f.categories,
            kinds: f.kinds,
            event_names: f.event_names,
            user_ids: f
                .user_ids
                .map(|ids| ids.into_iter().map(|id| id.0).collect()),
            usernames: f.usernames,
            ip_address: f.ip_address,
            internal: f.internal,
            from: f.from.map(|t| t.0),
            to: f.to.map(|t| t.0),
            search: f.search,
            ..EventFilter::default()
        })
    }
}

fn check_len<T>(argument: &str, field: &str, list: Option<&Vec<T>>) -> async_graphql::Result<()> {
    match list {
        Some(values) if values.len() > MAX_LIST_VALUES => Err(bad_input(
            &format!("{argument}.{field}"),
            format!("at most {MAX_LIST_VALUES} values"),
        )),
        _ => Ok(()),
    }
}

/// The order of a list of events, by `(createdAt, id)`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(name = "SortOrder")]
pub enum SortOrderInput {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

impl From<SortOrderInput> for SortOrder {
    fn from(order: SortOrderInput) -> Self {
        match order {
            SortOrderInput::Asc => SortOrder::Asc,
            SortOrderInput::Desc => SortOrder::Desc,
        }
    }
}
