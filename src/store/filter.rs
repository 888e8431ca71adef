//! The event filter shared by every query and report, and the SQL it becomes.

use chrono::{NaiveDateTime, Timelike};
use uuid::Uuid;

use entity::user_events::Column;
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait};

use super::{Dialect, EventRow};
use crate::catalog::{EventCategory, EventKind, known_names};

/// Which events to consider. Fields combine with AND; a list matches any of its values and an
/// empty list matches nothing.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Events whose name belongs to one of these categories.
    pub categories: Option<Vec<EventCategory>>,
    /// Events of one of these kinds.
    pub kinds: Option<Vec<EventKind>>,
    /// Events with one of these exact names.
    pub event_names: Option<Vec<String>>,
    /// Events of one of these users.
    pub user_ids: Option<Vec<Uuid>>,
    /// Events whose description's `username` is one of these.
    pub usernames: Option<Vec<String>>,
    /// Events from this exact address.
    pub ip_address: Option<String>,
    /// Internal components (`127.0.0.1`) only, or everything else.
    pub internal: Option<bool>,
    /// Inclusive lower bound, UTC.
    pub from: Option<NaiveDateTime>,
    /// Exclusive upper bound, UTC.
    pub to: Option<NaiveDateTime>,
    /// Case-insensitive (ASCII) substring of the description.
    pub search: Option<String>,
    /// A report's own restriction to some event names, ANDed with everything above.
    pub(crate) within_names: Option<&'static [&'static str]>,
}

/// The address that marks an internal component.
pub const INTERNAL_ADDRESS: &str = "127.0.0.1";

impl EventFilter {
    /// Whether one event matches, with exactly the meaning of the SQL conditions (live events
    /// are matched here as they arrive; everything stored is filtered by the database).
    pub fn matches(&self, row: &EventRow) -> bool {
        self.admits_name(&row.event_name)
            && any_of(&self.user_ids, |u| Some(*u) == row.user_id)
            && self.usernames.as_ref().is_none_or(|names| {
                let username = crate::details::Details::parse(&row.description).username;
                username.is_some_and(|u| names.contains(&u))
            })
            && self.ip_address.as_ref().is_none_or(|ip| *ip == row.ipaddr)
            && self
                .internal
                .is_none_or(|internal| (row.ipaddr == INTERNAL_ADDRESS) == internal)
            && self.from.is_none_or(|from| row.created_at >= from)
            && self.to.is_none_or(|to| row.created_at < to)
            && self.search.as_ref().is_none_or(|needle| {
                row.description
                    .to_ascii_lowercase()
                    .contains(&needle.to_ascii_lowercase())
            })
    }

    /// Whether a rollup by UTC hour (or, with `whole_days`, by UTC day) can answer for this
    /// filter: a rollup keeps only the time and the event name, so any other condition, or a
    /// bound inside an hour (a day), needs the events themselves.
    pub(crate) fn fits_rollup(&self, whole_days: bool) -> bool {
        let aligned = |t: Option<NaiveDateTime>| {
            t.is_none_or(|t| {
                t.minute() == 0
                    && t.second() == 0
                    && t.nanosecond() == 0
                    && (!whole_days || t.hour() == 0)
            })
        };
        self.fits_rollup_but_bounds() && aligned(self.from) && aligned(self.to)
    }

    /// Whether an event named `name` passes the conditions on names (`categories`, `kinds`,
    /// `event_names` and a report's own restriction), with the meaning of [`EventFilter::matches`].
    pub(crate) fn admits_name(&self, name: &str) -> bool {
        let kind = EventKind::from_name(name);
        self.within_names.is_none_or(|names| names.contains(&name))
            && any_of(&self.categories, |c| *c == kind.category())
            && any_of(&self.kinds, |k| *k == kind)
            && any_of(&self.event_names, |n| n == name)
    }

    /// Whether any condition restricts event names (categories, kinds, names, or a report's own
    /// restriction).
    pub(crate) fn constrains_names(&self) -> bool {
        self.within_names.is_some()
            || self.categories.is_some()
            || self.kinds.is_some()
            || self.event_names.is_some()
    }

    /// Whether every condition but the time bounds is one a rollup keeps (the event name).
    pub(crate) fn fits_rollup_but_bounds(&self) -> bool {
        self.user_ids.is_none()
            && self.usernames.is_none()
            && self.ip_address.is_none()
            && self.internal.is_none()
            && self.search.is_none()
    }

    /// Only the time bounds, on `time_column` (for a rollup that keeps no event name; the
    /// caller has checked the names with [`EventFilter::admits_name`]).
    pub(crate) fn condition_on_time(&self, dialect: Dialect, time_column: &str) -> Condition {
        let bounds = EventFilter {
            from: self.from,
            to: self.to,
            ..EventFilter::default()
        };
        bounds.condition_on(dialect, time_column)
    }

    /// The filter as one condition over `user_events` (every set field, ANDed).
    pub(crate) fn condition(&self, dialect: Dialect) -> Condition {
        self.condition_on(dialect, "created_at")
    }

    /// As [`EventFilter::condition`], with the time bounds on `time_column`.
    pub(crate) fn condition_on(&self, dialect: Dialect, time_column: &str) -> Condition {
        let mut all = Condition::all();
        if let Some(names) = self.within_names {
            all = all.add(col(Column::EventName).is_in(names.iter().copied()));
        }
        if let Some(categories) = &self.categories {
            all = all.add(name_set(
                categories.contains(&EventCategory::Other),
                categories.iter().flat_map(|c| c.event_names()),
            ));
        }
        if let Some(kinds) = &self.kinds {
            all = all.add(name_set(
                kinds.contains(&EventKind::Unknown),
                kinds.iter().filter_map(|k| k.event_name()),
            ));
        }
        if let Some(names) = &self.event_names {
            all = all.add(col(Column::EventName).is_in(names.iter().cloned()));
        }
        if let Some(ids) = &self.user_ids {
            all = all.add(col(Column::UserId).is_in(ids.iter().map(|id| dialect.uuid(*id))));
        }
        if let Some(names) = &self.usernames {
            all = all.add(if names.is_empty() {
                nothing()
            } else {
                dialect
                    .json_text_where_present(DESCRIPTION, "username")
                    .is_in(names.iter().cloned())
            });
        }
        if let Some(ip) = &self.ip_address {
            all = all.add(col(Column::Ipaddr).eq(ip.clone()));
        }
        match self.internal {
            Some(true) => all = all.add(col(Column::Ipaddr).eq(INTERNAL_ADDRESS)),
            Some(false) => all = all.add(col(Column::Ipaddr).ne(INTERNAL_ADDRESS)),
            None => {}
        }
        if let Some(from) = self.from {
            all = all.add(Expr::col(Alias::new(time_column)).gte(dialect.bound(from)));
        }
        if let Some(to) = self.to {
            all = all.add(Expr::col(Alias::new(time_column)).lt(dialect.bound(to)));
        }
        if let Some(needle) = &self.search {
            all = all.add(dialect.contains_folded(Expr::cust(DESCRIPTION), needle));
        }
        all
    }
}

/// No list (anything goes), or a list with a value that passes `test`.
fn any_of<T>(list: &Option<Vec<T>>, test: impl Fn(&T) -> bool) -> bool {
    list.as_ref().is_none_or(|values| values.iter().any(test))
}

/// `event_name IN (names)`, or `NOT IN (every known name)` for the unlisted, or both ORed.
fn name_set(include_unknown: bool, names: impl Iterator<Item = &'static str>) -> Condition {
    let mut names: Vec<&'static str> = names.collect();
    names.sort_unstable();
    names.dedup();
    let listed = || col(Column::EventName).is_in(names.iter().copied());
    let unlisted = || col(Column::EventName).is_not_in(known_names());
    match (names.is_empty(), include_unknown) {
        (true, false) => Condition::all().add(nothing()),
        (false, false) => Condition::all().add(listed()),
        (true, true) => Condition::all().add(unlisted()),
        (false, true) => Condition::any().add(listed()).add(unlisted()),
    }
}

/// An unqualified `user_events` column (statements over a join or a rollup name it alike).
fn col(column: Column) -> Expr {
    Expr::col(column)
}

/// A condition no row meets.
fn nothing() -> Expr {
    Expr::cust("1 = 0")
}

/// The description column, as the backend's fragments name it.
const DESCRIPTION: &str = "description";
