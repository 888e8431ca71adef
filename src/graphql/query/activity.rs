//! `loginActivity` and `userTimeline`.

use async_graphql::{Context, Object};

use crate::graphql::error::{OrInternal, store};
use crate::graphql::limits::ReportRows;
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::graphql::types::{
    EventFilterInput, Flat, LoginBucket, TimeBucketInput, UserTimeline, time_zone_argument,
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
        #[graphql(
            desc = "Which events count: every condition given must hold (see EventFilter); none means every event the token may read."
        )]
        filter: Option<EventFilterInput>,
        #[graphql(
            default_with = "Some(TimeBucketInput::Day)",
            desc = "The width of each bucket (default DAY)."
        )]
        bucket: Option<TimeBucketInput>,
        #[graphql(
            default_with = "Some(\"UTC\".to_string())",
            desc = "An IANA time zone (`Europe/Berlin`); buckets start at local midnight or the local hour there. Default UTC."
        )]
        time_zone: Option<String>,
    ) -> async_graphql::Result<Flat<LoginBucket>> {
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
        #[graphql(desc = "The user whose events are shown.")] user_id: UuidValue,
        #[graphql(desc = "The window's start (inclusive); default: the user's first event.")]
        from: Option<DateTime>,
        #[graphql(desc = "The window's end (exclusive); default: after the user's last event.")]
        to: Option<DateTime>,
        #[graphql(
            default_with = "Some(TimeBucketInput::Day)",
            desc = "The width of each bucket (default DAY)."
        )]
        bucket: Option<TimeBucketInput>,
        #[graphql(
            default_with = "Some(\"UTC\".to_string())",
            desc = "An IANA time zone (`Europe/Berlin`); buckets start at local midnight or the local hour there. Default UTC."
        )]
        time_zone: Option<String>,
    ) -> async_graphql::Result<UserTimeline> {
        let principal = crate::graphql::access::require_read(ctx)?;
        let zone = time_zone_argument(time_zone.as_deref())?;
        let filter = EventFilter {
            // Another user's timeline is empty for a `self` token.
            user_ids: principal.visible_users(Some(vec![user_id.0])),
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
        // The first and last event cost a statement of their own: read only when asked for
        // (the total is the sum of the buckets).
        let look = ctx.look_ahead();
        let seen = look.field("firstSeen").exists() || look.field("lastSeen").exists();
        let span = async {
            match seen {
                true => store.span(&filter).await.map(Some),
                false => Ok(None),
            }
        };
        let (span, counts) =
            tokio::try_join!(span, store.event_counts(&filter, &grouping, budget.ask()))
                .or_internal()?;
        budget.spend(counts.len())?;
        Ok(UserTimeline::new(user_id, filter, span, counts))
    }
}
