//! `loginActivity` and `userTimeline`.

use async_graphql::{Context, Object};

use crate::graphql::error::{OrInternal, store};
use crate::graphql::limits::ReportRows;
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::graphql::types::{
    EventFilterInput, LoginBucket, TimeBucketInput, UserTimeline, time_zone_argument,
};
use crate::store::{EventFilter, GroupKey, Grouping};

/// Who logged in, and what one user did.
#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// Logins, logouts, distinct users who logged in, and logins by method, per bucket that
    /// has a login or a logout, oldest first. At most `--max-report-rows` buckets, shared with
    /// the request's other reports; past it, `LIMIT_EXCEEDED`.
    async fn login_activity(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilterInput>,
        #[graphql(default_with = "Some(TimeBucketInput::Day)")] bucket: Option<TimeBucketInput>,
        #[graphql(default_with = "Some(\"UTC\".to_string())")] time_zone: Option<String>,
    ) -> async_graphql::Result<Vec<LoginBucket>> {
        let filter = EventFilterInput::into_store(ctx, filter, "filter")?;
        let zone = time_zone_argument(time_zone.as_deref())?;
        let bucket = bucket.unwrap_or(TimeBucketInput::Day).into();
        let budget = ReportRows::of(ctx);
        let _turn = budget.turn().await;
        let rows = store(ctx)
            .login_activity(&filter, bucket, &zone, budget.ask())
            .await
            .or_internal()?;
        budget.spend(rows.len())?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// One user's events in `[from, to)`: first and last seen, total, the buckets that have
    /// events with per-category counts, and the events themselves, newest first. Each
    /// category count of a bucket is a report row toward `--max-report-rows`.
    async fn user_timeline(
        &self,
        ctx: &Context<'_>,
        user_id: UuidValue,
        from: Option<DateTime>,
        to: Option<DateTime>,
        #[graphql(default_with = "Some(TimeBucketInput::Day)")] bucket: Option<TimeBucketInput>,
        #[graphql(default_with = "Some(\"UTC\".to_string())")] time_zone: Option<String>,
    ) -> async_graphql::Result<UserTimeline> {
        crate::graphql::access::require_user(ctx, user_id.0)?;
        let zone = time_zone_argument(time_zone.as_deref())?;
        let filter = EventFilter {
            user_ids: Some(vec![user_id.0]),
            from: from.map(|t| t.0),
            to: to.map(|t| t.0),
            ..EventFilter::default()
        };
        let grouping = Grouping {
            keys: vec![GroupKey::Category],
            bucket: Some(bucket.unwrap_or(TimeBucketInput::Day).into()),
            zone,
            limit: None,
        };
        let store = store(ctx);
        let budget = ReportRows::of(ctx);
        let _turn = budget.turn().await;
        let (span, counts) = tokio::try_join!(
            store.span(&filter),
            store.event_counts(&filter, &grouping, budget.ask())
        )
        .or_internal()?;
        budget.spend(counts.len())?;
        Ok(UserTimeline::new(user_id, filter, span, counts))
    }
}
