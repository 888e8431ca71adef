//! Where a count is read from: the events, or the coarsest rollup that gives exactly the events'
//! answer.

use entity::{user_events, user_events_daily, user_events_hourly};
use sea_orm::{EntityName, IdenStatic};

use super::{CountSource, GroupKey, TimeBucket};
use crate::store::filter::EventFilter;
use crate::store::zone::Segment;

/// A table counts can be read from: the events, or a rollup of the same counts by UTC hour or
/// day. Names come from the entities.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// `user_events` itself.
    Events,
    /// `user_events_hourly`.
    Hourly,
    /// `user_events_daily`.
    Daily,
}

pub(super) const EVENTS: Source = Source::Events;
const HOURLY: Source = Source::Hourly;
const DAILY: Source = Source::Daily;

impl Source {
    /// The table.
    pub(super) fn table(self) -> &'static str {
        match self {
            Source::Events => user_events::Entity.table_name(),
            Source::Hourly => user_events_hourly::Entity.table_name(),
            Source::Daily => user_events_daily::Entity.table_name(),
        }
    }

    /// The time column a filter's bounds and buckets apply to.
    pub(super) fn time(self) -> &'static str {
        match self {
            Source::Events => user_events::Column::CreatedAt.as_str(),
            Source::Hourly => user_events_hourly::Column::HourStart.as_str(),
            Source::Daily => user_events_daily::Column::DayStart.as_str(),
        }
    }

    /// The count of a group.
    pub(super) fn count(self) -> &'static str {
        match self {
            Source::Events => "COUNT(*)",
            Source::Hourly | Source::Daily => "CAST(SUM(n) AS BIGINT)",
        }
    }

    /// Whether the table is a rollup.
    pub(super) fn rollup(self) -> bool {
        self != Source::Events
    }
}

impl CountSource {
    /// The table that answers a count of `filter` grouped by `keys` in `bucket`s whose zone
    /// offsets are `segments`: the coarsest rollup that gives exactly the events' answer.
    pub(super) fn pick(
        self,
        filter: &EventFilter,
        keys: &[GroupKey],
        bucket: Option<TimeBucket>,
        segments: &[Segment],
    ) -> Source {
        let keys_fit = keys
            .iter()
            .all(|k| matches!(k, GroupKey::Category | GroupKey::Kind | GroupKey::EventName));
        if self != CountSource::Auto || !keys_fit {
            return EVENTS;
        }
        let utc_days = bucket != Some(TimeBucket::Hour) && segments.iter().all(|s| s.offset == 0);
        let whole_hours = segments.iter().all(|s| s.offset % 3600 == 0);
        if utc_days && filter.fits_rollup(true) {
            DAILY
        } else if whole_hours && filter.fits_rollup(false) {
            HOURLY
        } else {
            EVENTS
        }
    }
}
