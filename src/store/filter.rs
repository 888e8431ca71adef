//! The event filter shared by every query and report, and the SQL it becomes.

use chrono::{NaiveDateTime, Timelike};
use uuid::Uuid;

use super::Dialect;
use super::EventRow;
use super::sql::Sql;
use crate::catalog::{EventCategory, EventKind, known_names};
use entity::stored::{StoredTime, StoredUuid};

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

impl Dialect {
    /// A UUID as this backend stores it.
    pub(crate) fn uuid(self, id: Uuid) -> sea_orm::Value {
        StoredUuid::bind(id, self.backend())
    }

    /// A UTC time as a bound to compare stored times with ([`StoredTime::bound`]).
    pub(crate) fn bound(self, t: NaiveDateTime) -> sea_orm::Value {
        StoredTime::bound(t, self.backend())
    }

    /// A UTC time as this backend stores it.
    pub(crate) fn time(self, t: NaiveDateTime) -> sea_orm::Value {
        StoredTime::bind(t, self.backend())
    }
}

impl EventFilter {
    /// Appends ` AND ...` for every set field (nothing when the filter is empty).
    pub(crate) fn push_conditions(&self, sql: &mut Sql, dialect: Dialect) {
        self.push_conditions_on(sql, dialect, "created_at");
    }

    /// Whether one event matches, with exactly the meaning of the SQL conditions (live events
    /// are matched here as they arrive; everything stored is filtered by the database).
    pub fn matches(&self, row: &EventRow) -> bool {
        let kind = EventKind::from_name(&row.event_name);
        self.within_names
            .is_none_or(|names| names.contains(&row.event_name.as_str()))
            && any_of(&self.categories, |c| *c == kind.category())
            && any_of(&self.kinds, |k| *k == kind)
            && any_of(&self.event_names, |n| *n == row.event_name)
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
        self.user_ids.is_none()
            && self.usernames.is_none()
            && self.ip_address.is_none()
            && self.internal.is_none()
            && self.search.is_none()
            && aligned(self.from)
            && aligned(self.to)
    }

    /// As [`EventFilter::push_conditions`], with the time bounds on `time_column`.
    pub(crate) fn push_conditions_on(&self, sql: &mut Sql, dialect: Dialect, time_column: &str) {
        if let Some(names) = self.within_names {
            sql.push(" AND ");
            push_in(sql, "event_name", names.iter().copied());
        }
        if let Some(categories) = &self.categories {
            sql.push(" AND ");
            push_name_set(
                sql,
                categories.contains(&EventCategory::Other),
                categories.iter().flat_map(|c| c.event_names()),
            );
        }
        if let Some(kinds) = &self.kinds {
            sql.push(" AND ");
            push_name_set(
                sql,
                kinds.contains(&EventKind::Unknown),
                kinds.iter().filter_map(|k| k.event_name()),
            );
        }
        if let Some(names) = &self.event_names {
            sql.push(" AND ");
            push_in(sql, "event_name", names.iter().cloned());
        }
        if let Some(ids) = &self.user_ids {
            sql.push(" AND ");
            push_in(sql, "user_id", ids.iter().map(|id| dialect.uuid(*id)));
        }
        if let Some(names) = &self.usernames {
            sql.push(" AND ");
            if names.is_empty() {
                sql.push("1 = 0");
            } else {
                match dialect {
                    Dialect::Sqlite => sql.push(
                        "json_valid(description) AND json_type(description, '$.username') = 'text' \
                         AND json_extract(description, '$.username') IN ",
                    ),
                    // A cheap text test first: the guarded JSON parse runs only where the key may be.
                    Dialect::Postgres => sql
                        .push_may_have_keys("description", &["username"])
                        .push(" AND user_events_json_text(description, 'username') IN "),
                };
                sql.bind_list(names.iter().cloned());
            }
        }
        if let Some(ip) = &self.ip_address {
            sql.push(" AND ipaddr = ").bind(ip.clone());
        }
        match self.internal {
            Some(true) => {
                sql.push(" AND ipaddr = ").bind(INTERNAL_ADDRESS);
            }
            Some(false) => {
                sql.push(" AND ipaddr <> ").bind(INTERNAL_ADDRESS);
            }
            None => {}
        }
        if let Some(from) = self.from {
            sql.push(" AND ")
                .push(time_column)
                .push(" >= ")
                .bind(dialect.bound(from));
        }
        if let Some(to) = self.to {
            sql.push(" AND ")
                .push(time_column)
                .push(" < ")
                .bind(dialect.bound(to));
        }
        if let Some(needle) = &self.search {
            // ASCII case folding on both backends, so that both give the same answer.
            let needle = needle.to_ascii_lowercase();
            match dialect {
                Dialect::Sqlite => sql.push(" AND instr(lower(description), ").bind(needle),
                Dialect::Postgres => sql
                    .push(
                        " AND strpos(translate(description, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
                         'abcdefghijklmnopqrstuvwxyz'), ",
                    )
                    .bind(needle),
            };
            sql.push(") > 0");
        }
    }
}

/// No list (anything goes), or a list with a value that passes `test`.
fn any_of<T>(list: &Option<Vec<T>>, test: impl Fn(&T) -> bool) -> bool {
    list.as_ref().is_none_or(|values| values.iter().any(test))
}

/// `event_name IN (names)`, or `NOT IN (every known name)` for the unlisted, or both ORed.
fn push_name_set(sql: &mut Sql, include_unknown: bool, names: impl Iterator<Item = &'static str>) {
    let mut names: Vec<&'static str> = names.collect();
    names.sort_unstable();
    names.dedup();
    match (names.is_empty(), include_unknown) {
        (true, false) => {
            sql.push("1 = 0");
        }
        (false, false) => push_in(sql, "event_name", names),
        (true, true) => {
            sql.push("event_name NOT IN ").bind_list(known_names());
        }
        (false, true) => {
            sql.push("(");
            push_in(sql, "event_name", names);
            sql.push(" OR event_name NOT IN ").bind_list(known_names());
            sql.push(")");
        }
    }
}

/// `column = v` for one value, `column IN (v1, ...)` for several, false for none.
fn push_in<V: Into<sea_orm::Value>>(
    sql: &mut Sql,
    column: &str,
    values: impl IntoIterator<Item = V>,
) {
    let values: Vec<sea_orm::Value> = values.into_iter().map(Into::into).collect();
    match values.len() {
        0 => {
            sql.push("1 = 0");
        }
        1 => {
            sql.push(column).push(" = ");
            for v in values {
                sql.bind(v);
            }
        }
        _ => {
            sql.push(column).push(" IN ").bind_list(values);
        }
    }
}
