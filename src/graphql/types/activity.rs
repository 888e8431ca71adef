//! `loginActivity` buckets and the `userTimeline`.

use async_graphql::{ComplexObject, Context, SimpleObject};

use super::flat::{Flat, Plain};
use super::{CategoryCount, EventConnection};
use crate::graphql::error::{OrInternal, store};
use crate::graphql::query::newest_first;
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::store::{CountRow, EventFilter, LoginRow, Span};

/// Logins in one method.
#[derive(SimpleObject)]
pub struct AuthMethodCount {
    /// `LDAP`, `SAML`, `LOCAL`, or `UNKNOWN` (missing or another method).
    pub method: String,
    /// Logins.
    pub count: i64,
}

/// Logins and logouts in one bucket.
#[derive(SimpleObject)]
pub struct LoginBucket {
    /// The bucket's start (local midnight, or the local hour, as a UTC instant).
    pub start: DateTime,
    /// `user login` events.
    pub logins: i64,
    /// Distinct users who logged in.
    pub distinct_users: i64,
    /// `user logout` events.
    pub logouts: i64,
    /// Logins by method: methods with a count only, count descending, then method.
    pub by_auth_method: Flat<AuthMethodCount>,
}

impl From<LoginRow> for LoginBucket {
    fn from(row: LoginRow) -> Self {
        let mut by_auth_method: Vec<AuthMethodCount> = [
            ("LDAP", row.ldap),
            ("SAML", row.saml),
            ("LOCAL", row.local),
            ("UNKNOWN", row.unknown()),
        ]
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(method, count)| AuthMethodCount {
            method: method.into(),
            count,
        })
        .collect();
        by_auth_method.sort_by(|a, b| b.count.cmp(&a.count).then(a.method.cmp(&b.method)));
        LoginBucket {
            start: DateTime(row.start),
            logins: row.logins,
            distinct_users: row.distinct_users,
            logouts: row.logouts,
            by_auth_method: Flat(by_auth_method),
        }
    }
}

impl Plain for AuthMethodCount {}
impl Plain for LoginBucket {}

/// One bucket of a user's timeline.
#[derive(SimpleObject)]
pub struct TimelineBucket {
    /// The bucket's start, as a UTC instant.
    pub start: DateTime,
    /// Events in the bucket.
    pub total: i64,
    /// Events per category, count descending, then category.
    pub by_category: Flat<CategoryCount>,
}

impl Plain for TimelineBucket {}

/// What one user did over a window, bucket by bucket.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct UserTimeline {
    /// The user.
    pub user_id: UuidValue,
    /// The first event in the window.
    pub first_seen: Option<DateTime>,
    /// The last event in the window.
    pub last_seen: Option<DateTime>,
    /// Events in the window.
    pub total: i64,
    /// Buckets with events, oldest first.
    pub buckets: Flat<TimelineBucket>,
    /// The window, for `events`.
    #[graphql(skip)]
    pub filter: EventFilter,
}

impl UserTimeline {
    /// Builds the timeline from its per-category bucket counts (ordered by bucket, then count
    /// descending, then category) and, when asked for, the window's first and last event.
    pub fn new(
        user_id: UuidValue,
        filter: EventFilter,
        span: Option<Span>,
        counts: Vec<CountRow>,
    ) -> Self {
        let mut buckets: Vec<TimelineBucket> = Vec::new();
        for row in counts {
            let Some(start) = row.bucket_start else {
                continue;
            };
            let category = row
                .group
                .category
                .unwrap_or(crate::catalog::EventCategory::Other);
            match buckets.last_mut() {
                Some(last) if last.start.0 == start => {
                    last.total += row.count;
                    last.by_category.push(CategoryCount {
                        category,
                        count: row.count,
                    });
                }
                _ => buckets.push(TimelineBucket {
                    start: DateTime(start),
                    total: row.count,
                    by_category: Flat(vec![CategoryCount {
                        category,
                        count: row.count,
                    }]),
                }),
            }
        }
        let span = span.unwrap_or_default();
        UserTimeline {
            user_id,
            first_seen: span.first.map(DateTime),
            last_seen: span.last.map(DateTime),
            // Every event of the window is in one bucket and one category.
            total: buckets.iter().map(|b| b.total).sum(),
            buckets: Flat(buckets),
            filter,
        }
    }
}

#[ComplexObject]
impl UserTimeline {
    /// The window's events, newest first.
    #[graphql(complexity = "crate::graphql::query::page_cost(first, None, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many items to return from the start of the list (default 50, at most --max-page-size)."
        )]
        first: Option<i32>,
        #[graphql(desc = "A cursor from a previous page (`endCursor`): the page starts after it.")]
        after: Option<String>,
    ) -> async_graphql::Result<EventConnection> {
        let page = newest_first(ctx, first, after)?;
        let rows = store(ctx)
            .events_page(&self.filter, &page)
            .await
            .or_internal()?;
        Ok(EventConnection::new(rows, self.filter.clone()))
    }
}
