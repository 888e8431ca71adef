//! Grouped reports: `eventCounts` and `resourceUsage`.

use async_graphql::{Context, Object};

use crate::graphql::error::{OrInternal, store};
use crate::graphql::limits::ReportRows;
use crate::graphql::types::{
    EventCountRow, EventFilterInput, EventGroupKeyInput, Flat, ResourceUsageRow, TimeBucketInput,
    grouping,
};

/// Counts and sums per group and time bucket.
#[derive(Default)]
pub struct ReportsQuery;

#[Object]
impl ReportsQuery {
    /// Events per group (and bucket): one row per non-empty group, by `bucketStart`, then count
    /// descending, then the group keys. `limit` keeps the top groups by their total over the
    /// whole range (with a bucket, those groups' rows in every bucket). At most
    /// `--max-report-rows` rows, shared with the request's other reports; past it,
    /// `LIMIT_EXCEEDED`.
    async fn event_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which events count: every condition given must hold (see EventFilter); none means every event the token may read."
        )]
        filter: Option<EventFilterInput>,
        #[graphql(
            desc = "The keys rows are grouped by, in this order; with a bucket it may be empty (one row per bucket), without one it needs a key."
        )]
        group_by: Vec<EventGroupKeyInput>,
        #[graphql(
            desc = "The width of each time bucket; none gives one row per group over the whole range."
        )]
        bucket: Option<TimeBucketInput>,
        #[graphql(
            default_with = "Some(\"UTC\".to_string())",
            desc = "An IANA time zone (`Europe/Berlin`); buckets start at local midnight or the local hour there. Default UTC."
        )]
        time_zone: Option<String>,
        #[graphql(
            desc = "At most this many rows, the largest counts first (ties by keys); without it, every row up to --max-report-rows."
        )]
        limit: Option<i32>,
    ) -> async_graphql::Result<Flat<EventCountRow>> {
        let filter = EventFilterInput::into_store(ctx, filter, "filter")?;
        let grouping = grouping(&group_by, bucket, time_zone.as_deref(), limit)?;
        let budget = ReportRows::of(ctx);
        let _turn = budget.turn().await;
        let rows = store(ctx)
            .event_counts(&filter, &grouping, budget.ask())
            .await
            .or_internal()?;
        budget.spend(rows.len())?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Sums of cpu, memory (GiB) and gpu over the events whose description reports any of
    /// them, per group (and bucket), ordered like `eventCounts` by `events`. Bounded like
    /// `eventCounts`.
    async fn resource_usage(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which events count: every condition given must hold (see EventFilter); none means every event the token may read."
        )]
        filter: Option<EventFilterInput>,
        #[graphql(
            desc = "The keys rows are grouped by, in this order; with a bucket it may be empty (one row per bucket), without one it needs a key."
        )]
        group_by: Vec<EventGroupKeyInput>,
        #[graphql(
            desc = "The width of each time bucket; none gives one row per group over the whole range."
        )]
        bucket: Option<TimeBucketInput>,
        #[graphql(
            default_with = "Some(\"UTC\".to_string())",
            desc = "An IANA time zone (`Europe/Berlin`); buckets start at local midnight or the local hour there. Default UTC."
        )]
        time_zone: Option<String>,
    ) -> async_graphql::Result<Flat<ResourceUsageRow>> {
        let filter = EventFilterInput::into_store(ctx, filter, "filter")?;
        let grouping = grouping(&group_by, bucket, time_zone.as_deref(), None)?;
        let budget = ReportRows::of(ctx);
        let _turn = budget.turn().await;
        let rows = store(ctx)
            .resource_usage(&filter, &grouping, budget.ask())
            .await
            .or_internal()?;
        budget.spend(rows.len())?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
