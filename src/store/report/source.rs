//! Where a count is read from: the events, or the coarsest rollup that gives exactly the events'
//! answer.

use entity::{
    user_events, user_events_daily, user_events_hourly, user_events_keys_daily,
    user_events_keys_monthly, user_events_login_sets, user_events_logins_hourly,
    user_events_usage_daily, user_events_usage_hourly,
};
use sea_orm::{EntityName, IdenStatic};

use super::{CountSource, GroupKey, Measure, TimeBucket};
use crate::store::Dialect;
use crate::store::filter::EventFilter;
use crate::store::zone::{Segment, hours_fit};

/// A table a report can be read from: the events, or a rollup of the same measure by UTC hour
/// or day. Names come from the entities.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(in crate::store) enum Source {
    /// `user_events` itself.
    Events,
    /// `user_events_hourly`: counts.
    Hourly,
    /// `user_events_daily`: counts.
    Daily,
    /// `user_events_usage_hourly`: resource usage (PostgreSQL).
    UsageHourly,
    /// `user_events_usage_daily`: resource usage (PostgreSQL).
    UsageDaily,
    /// `user_events_logins_hourly`: logins per user and method (PostgreSQL).
    LoginsHourly,
    /// `user_events_login_sets`: the users who logged in per hour (PostgreSQL).
    LoginSets,
    /// `user_events_keys_daily`: counts per user, address and user agent (PostgreSQL).
    KeysDaily,
    /// `user_events_keys_monthly`: the same per month (PostgreSQL).
    KeysMonthly,
}

pub(super) const EVENTS: Source = Source::Events;
const HOURLY: Source = Source::Hourly;
const DAILY: Source = Source::Daily;

impl Source {
    /// The table.
    pub(in crate::store) fn table(self) -> &'static str {
        match self {
            Source::Events => user_events::Entity.table_name(),
            Source::Hourly => user_events_hourly::Entity.table_name(),
            Source::Daily => user_events_daily::Entity.table_name(),
            Source::UsageHourly => user_events_usage_hourly::Entity.table_name(),
            Source::UsageDaily => user_events_usage_daily::Entity.table_name(),
            Source::LoginsHourly => user_events_logins_hourly::Entity.table_name(),
            Source::LoginSets => user_events_login_sets::Entity.table_name(),
            Source::KeysDaily => user_events_keys_daily::Entity.table_name(),
            Source::KeysMonthly => user_events_keys_monthly::Entity.table_name(),
        }
    }

    /// The time column a filter's bounds and buckets apply to.
    pub(in crate::store) fn time(self) -> &'static str {
        match self {
            Source::Events => user_events::Column::CreatedAt.as_str(),
            Source::Hourly => user_events_hourly::Column::HourStart.as_str(),
            Source::Daily => user_events_daily::Column::DayStart.as_str(),
            Source::UsageHourly => user_events_usage_hourly::Column::HourStart.as_str(),
            Source::UsageDaily => user_events_usage_daily::Column::DayStart.as_str(),
            Source::LoginsHourly => user_events_logins_hourly::Column::HourStart.as_str(),
            Source::LoginSets => user_events_login_sets::Column::HourStart.as_str(),
            Source::KeysDaily => user_events_keys_daily::Column::DayStart.as_str(),
            Source::KeysMonthly => user_events_keys_monthly::Column::MonthStart.as_str(),
        }
    }

    /// The count of a group: its events, or (usage rollups) its events that reported usage.
    pub(super) fn count(self) -> String {
        match self.counted() {
            None => "COUNT(*)".into(),
            Some(column) => format!("CAST(SUM({column}) AS BIGINT)"),
        }
    }

    /// The rollup's column of events counted, if the source is a rollup.
    pub(super) fn counted(self) -> Option<&'static str> {
        match self {
            Source::Events => None,
            Source::Hourly => Some(user_events_hourly::Column::N.as_str()),
            Source::Daily => Some(user_events_daily::Column::N.as_str()),
            Source::UsageHourly => Some(user_events_usage_hourly::Column::Used.as_str()),
            Source::UsageDaily => Some(user_events_usage_daily::Column::Used.as_str()),
            Source::LoginsHourly => Some(user_events_logins_hourly::Column::N.as_str()),
            Source::LoginSets => Some(user_events_login_sets::Column::Logins.as_str()),
            Source::KeysDaily => Some(user_events_keys_daily::Column::N.as_str()),
            Source::KeysMonthly => Some(user_events_keys_monthly::Column::N.as_str()),
        }
    }

    /// Whether the table is a rollup.
    pub(super) fn rollup(self) -> bool {
        self != Source::Events
    }
}

impl CountSource {
    /// The table that answers `measure` over `filter` grouped by `keys` in `bucket`s whose zone
    /// offsets are `segments`: the coarsest rollup that gives exactly the events' answer.
    /// Resource usage has rollups on PostgreSQL only (their sums are exact decimals there).
    pub(super) fn pick(
        self,
        measure: Measure,
        dialect: Dialect,
        filter: &EventFilter,
        keys: &[GroupKey],
        bucket: Option<TimeBucket>,
        segments: &[Segment],
    ) -> Source {
        let keys_fit = keys
            .iter()
            .all(|k| matches!(k, GroupKey::Category | GroupKey::Kind | GroupKey::EventName));
        let (daily, hourly) = match (measure, dialect) {
            (Measure::Count, _) => (DAILY, HOURLY),
            (Measure::Usage, Dialect::Postgres) => (Source::UsageDaily, Source::UsageHourly),
            (Measure::Usage, Dialect::Sqlite) => return EVENTS,
        };
        if self != CountSource::Auto || !keys_fit {
            return EVENTS;
        }
        let utc_days = bucket != Some(TimeBucket::Hour) && segments.iter().all(|s| s.offset == 0);
        let whole_hours = hours_fit(segments);
        if utc_days && filter.fits_rollup(true) {
            daily
        } else if whole_hours && filter.fits_rollup(false) {
            hourly
        } else {
            EVENTS
        }
    }
}

impl CountSource {
    /// The key counts' column for `keys` when they answer a count over `filter` grouped by
    /// `keys` without buckets exactly: PostgreSQL, one key among user, address and user agent,
    /// and no condition but the time bounds.
    pub(super) fn key_counts(
        self,
        measure: Measure,
        dialect: Dialect,
        filter: &EventFilter,
        keys: &[GroupKey],
        bucket: Option<TimeBucket>,
    ) -> Option<&'static str> {
        if self != CountSource::Auto
            || measure != Measure::Count
            || dialect != Dialect::Postgres
            || bucket.is_some()
            || !filter.fits_rollup_but_bounds()
            || filter.constrains_names()
        {
            return None;
        }
        match keys {
            [GroupKey::User] => Some(user_events_keys_daily::Column::UserKey.as_str()),
            [GroupKey::IpAddress] => Some(user_events_keys_daily::Column::Ipaddr.as_str()),
            [GroupKey::UserAgent] => Some(user_events_keys_daily::Column::UserAgent.as_str()),
            _ => None,
        }
    }
}
