//! Report rows and the inputs that shape reports (group keys, time buckets, time zones).

use async_graphql::{Enum, SimpleObject};

use crate::catalog::{EventCategory, EventKind};
use crate::graphql::error::bad_input;
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::store::{CountRow, GroupKey, GroupValues, Grouping, TimeBucket, UsageRow, parse_zone};

/// The length of a time bucket; a bucket starts at local midnight (HOUR: the local hour; WEEK:
/// Monday; MONTH: the 1st) in the requested time zone.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "TimeBucket")]
pub enum TimeBucketInput {
    /// One hour.
    Hour,
    /// One day.
    Day,
    /// One week, from Monday.
    Week,
    /// One calendar month.
    Month,
}

impl From<TimeBucketInput> for TimeBucket {
    fn from(bucket: TimeBucketInput) -> Self {
        match bucket {
            TimeBucketInput::Hour => TimeBucket::Hour,
            TimeBucketInput::Day => TimeBucket::Day,
            TimeBucketInput::Week => TimeBucket::Week,
            TimeBucketInput::Month => TimeBucket::Month,
        }
    }
}

/// What a report groups events by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "EventGroupKey")]
pub enum EventGroupKeyInput {
    /// The event's category.
    Category,
    /// The event's kind.
    Kind,
    /// The exact event name.
    EventName,
    /// The user id.
    User,
    /// The address.
    IpAddress,
    /// The user agent.
    UserAgent,
}

impl From<EventGroupKeyInput> for GroupKey {
    fn from(key: EventGroupKeyInput) -> Self {
        match key {
            EventGroupKeyInput::Category => GroupKey::Category,
            EventGroupKeyInput::Kind => GroupKey::Kind,
            EventGroupKeyInput::EventName => GroupKey::EventName,
            EventGroupKeyInput::User => GroupKey::User,
            EventGroupKeyInput::IpAddress => GroupKey::IpAddress,
            EventGroupKeyInput::UserAgent => GroupKey::UserAgent,
        }
    }
}

/// Reads the `timeZone` argument: an IANA name; null means UTC.
pub fn time_zone_argument(time_zone: Option<&str>) -> async_graphql::Result<jiff::tz::TimeZone> {
    let name = time_zone.unwrap_or("UTC");
    parse_zone(name).ok_or_else(|| {
        bad_input(
            "timeZone",
            format!("{name:?} is not an IANA time zone such as \"Europe/Berlin\" or \"UTC\""),
        )
    })
}

/// Validates a report's shape: known time zone, at least one key or a bucket, a sane limit.
pub fn grouping(
    group_by: &[EventGroupKeyInput],
    bucket: Option<TimeBucketInput>,
    time_zone: Option<&str>,
    limit: Option<i32>,
) -> async_graphql::Result<Grouping> {
    let zone = time_zone_argument(time_zone)?;
    if group_by.is_empty() && bucket.is_none() {
        return Err(bad_input(
            "groupBy",
            "give at least one key, or a bucket to count per bucket",
        ));
    }
    let limit = match limit {
        None => None,
        Some(n) if n < 1 => return Err(bad_input("limit", format!("must be at least 1, got {n}"))),
        Some(n) => Some(u64::from(n.unsigned_abs())),
    };
    let mut keys: Vec<GroupKey> = Vec::new();
    for key in group_by {
        let key = GroupKey::from(*key);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Ok(Grouping {
        keys,
        bucket: bucket.map(Into::into),
        zone,
        limit,
    })
}

/// A report row's bucket and group keys; keys that were not asked for are null.
#[derive(SimpleObject)]
pub struct GroupFields {
    /// Start of the bucket in the requested time zone, as a UTC instant.
    pub bucket_start: Option<DateTime>,
    /// The category.
    pub category: Option<EventCategory>,
    /// The kind.
    pub kind: Option<EventKind>,
    /// The event name.
    pub event_name: Option<String>,
    /// The user.
    pub user_id: Option<UuidValue>,
    /// The address.
    pub ip_address: Option<String>,
    /// The user agent.
    pub user_agent: Option<String>,
}

impl GroupFields {
    fn new(bucket_start: Option<chrono::NaiveDateTime>, group: GroupValues) -> GroupFields {
        GroupFields {
            bucket_start: bucket_start.map(DateTime),
            category: group.category,
            kind: group.kind,
            event_name: group.event_name,
            user_id: group.user_id.map(UuidValue),
            ip_address: group.ip_address,
            user_agent: group.user_agent,
        }
    }
}

/// One group (and bucket) of `eventCounts`; keys that were not asked for are null.
#[derive(SimpleObject)]
pub struct EventCountRow {
    /// The bucket and the group.
    #[graphql(flatten)]
    pub group: GroupFields,
    /// Events in the group.
    pub count: i64,
}

impl From<CountRow> for EventCountRow {
    fn from(row: CountRow) -> Self {
        EventCountRow {
            group: GroupFields::new(row.bucket_start, row.group),
            count: row.count,
        }
    }
}

/// One group (and bucket) of `resourceUsage`: sums over the events that report usage.
#[derive(SimpleObject)]
pub struct ResourceUsageRow {
    /// The bucket and the group.
    #[graphql(flatten)]
    pub group: GroupFields,
    /// Events that reported usage.
    pub events: i64,
    /// Sum of vCPUs.
    pub cpu: f64,
    /// Sum of memory, GiB.
    pub memory_gib: f64,
    /// Sum of GPUs.
    pub gpu: i64,
}

impl From<UsageRow> for ResourceUsageRow {
    fn from(row: UsageRow) -> Self {
        ResourceUsageRow {
            group: GroupFields::new(row.bucket_start, row.group),
            events: row.events,
            cpu: row.cpu,
            memory_gib: row.memory_gib,
            gpu: row.gpu,
        }
    }
}

impl super::flat::Plain for EventCountRow {}
impl super::flat::Plain for ResourceUsageRow {}
