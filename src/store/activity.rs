//! Activity reports: logins per bucket, and the span of one user's (or any filter's) events.

use chrono::NaiveDateTime;
use entity::stored::StoredTime;
use entity::user_events::{Column, Entity as UserEvents};
use jiff::tz::TimeZone;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use std::collections::BTreeMap;

use entity::user_events_logins_hourly::{Column as LoginColumn, Entity as Logins};
use sea_orm::IdenStatic;
use sea_orm::sea_query::Alias;

use super::filter::EventFilter;
use super::report::{Shape, Source, row_limit};
use super::zone::{Segment, hours_fit};
use super::{CountSource, Dialect, Grouping, Store, StoreError, TimeBucket};

/// Logins and logouts in one bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRow {
    /// The bucket's start, UTC.
    pub start: NaiveDateTime,
    /// `user login` events.
    pub logins: i64,
    /// Distinct users among them.
    pub distinct_users: i64,
    /// `user logout` events.
    pub logouts: i64,
    /// Logins by LDAP.
    pub ldap: i64,
    /// Logins by SAML.
    pub saml: i64,
    /// Logins with a local password.
    pub local: i64,
}

impl LoginRow {
    /// Logins whose method is missing or not one of the three.
    pub fn unknown(&self) -> i64 {
        self.logins - self.ldap - self.saml - self.local
    }
}

/// The span of a set of events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// The oldest event's time.
    pub first: Option<NaiveDateTime>,
    /// The newest event's time.
    pub last: Option<NaiveDateTime>,
}

const LOGIN: &str = "user login";
const LOGOUT: &str = "user logout";

impl Store {
    /// Logins, logouts, distinct users who logged in, and logins by method, per bucket that has
    /// a login or a logout, oldest first; at most `max_rows` rows, as [`Store::event_counts`].
    pub async fn login_activity(
        &self,
        filter: &EventFilter,
        bucket: TimeBucket,
        zone: &TimeZone,
        max_rows: usize,
    ) -> Result<Vec<LoginRow>, StoreError> {
        self.login_activity_from(filter, bucket, zone, CountSource::Auto, max_rows)
            .await
    }

    /// [`Store::login_activity`], read from the source asked for (both give the same answer).
    /// The rollups answer on PostgreSQL when the filter keeps to names and whole hours and the
    /// zone's offsets are whole hours: logins, methods and distinct users from the login
    /// rollup, logouts from the hourly (or daily) counts.
    pub async fn login_activity_from(
        &self,
        filter: &EventFilter,
        bucket: TimeBucket,
        zone: &TimeZone,
        source: CountSource,
        max_rows: usize,
    ) -> Result<Vec<LoginRow>, StoreError> {
        let segments = self.zone_segments(filter, zone).await?;
        if source == CountSource::Auto
            && self.dialect == Dialect::Postgres
            && filter.fits_rollup(false)
            && hours_fit(&segments)
        {
            return self
                .login_activity_rolled_up(filter, bucket, zone, &segments, max_rows)
                .await;
        }
        let shape = Shape::new(self.dialect, Some(bucket), &segments);
        let mut select = Query::select();
        let grouped = shape.bucket_columns(&mut select, bucket);
        let method = self.dialect.json_word("description", "auth_method");
        let login = format!("event_name = '{LOGIN}'");
        let count = |when: String| Expr::cust(format!("COUNT(CASE WHEN {when} THEN 1 END)"));
        select
            .expr(count(login.clone()))
            .expr(Expr::cust(format!(
                "COUNT(DISTINCT CASE WHEN {login} THEN user_id END)"
            )))
            .expr(count(format!("event_name = '{LOGOUT}'")));
        for method_name in ["LDAP", "SAML", "LOCAL"] {
            select.expr(count(format!("{login} AND {method} = '{method_name}'")));
        }
        select.from(UserEvents);
        // Only logins are parsed; logouts need no description.
        self.dialect
            .join_parsed_description(&mut select, "description", Some(&login), "parsed");
        select
            .cond_where(filter.condition(self.dialect))
            .and_where(Expr::col(Column::EventName).is_in([LOGIN, LOGOUT]))
            .add_group_by(grouped.into_iter().map(Expr::col))
            .limit(row_limit(max_rows).unsigned_abs());
        let statement = self.dialect.backend().build(&select);
        let rows = self.db.query_all_raw(statement).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut at = 0;
            let start = shape.decode_bucket(row, &mut at, zone)?;
            let count = |i: usize| row.try_get_by_index::<i64>(at + i);
            out.push(LoginRow {
                start,
                logins: count(0)?,
                distinct_users: count(1)?,
                logouts: count(2)?,
                ldap: count(3)?,
                saml: count(4)?,
                local: count(5)?,
            });
        }
        out.sort_by_key(|r| r.start);
        Ok(out)
    }

    /// [`Store::login_activity`] from the rollups (see [`Store::login_activity_from`]).
    async fn login_activity_rolled_up(
        &self,
        filter: &EventFilter,
        bucket: TimeBucket,
        zone: &TimeZone,
        segments: &[Segment],
        max_rows: usize,
    ) -> Result<Vec<LoginRow>, StoreError> {
        let mut rows: BTreeMap<NaiveDateTime, LoginRow> = BTreeMap::new();
        let empty = |start| LoginRow {
            start,
            logins: 0,
            distinct_users: 0,
            logouts: 0,
            ldap: 0,
            saml: 0,
            local: 0,
        };
        if filter.admits_name(LOGIN) {
            // Per bucket and user first, so that a user counts once a bucket when their logins
            // there sum above zero (deltas of deleted logins included).
            let shape = Shape::new(self.dialect, Some(bucket), segments).on(Source::LoginsHourly);
            let mut per_user = Query::select();
            let grouped = shape.bucket_columns(&mut per_user, bucket);
            let n = LoginColumn::N.as_str();
            let method = LoginColumn::Method.as_str();
            per_user
                .column(LoginColumn::UserId)
                .expr_as(Expr::cust(format!("SUM({n})")), Alias::new("t"));
            for (alias, name) in [("l", "LDAP"), ("s", "SAML"), ("c", "LOCAL")] {
                per_user.expr_as(
                    Expr::cust(format!(
                        "SUM(CASE WHEN {method} = '{name}' THEN {n} ELSE 0 END)"
                    )),
                    Alias::new(alias),
                );
            }
            let mut per_user = per_user
                .from(Logins)
                .cond_where(filter.condition_on_time(self.dialect, Source::LoginsHourly.time()))
                .add_group_by(grouped.iter().cloned().map(Expr::col))
                .add_group_by([Expr::col(LoginColumn::UserId)])
                .to_owned();
            per_user.and_having(Expr::cust(format!("SUM({n}) <> 0")));
            let mut select = Query::select();
            for column in &grouped {
                select.column(column.clone());
            }
            select
                .expr(Expr::cust("CAST(SUM(t) AS BIGINT)"))
                .expr(Expr::cust(
                    "CAST(COUNT(CASE WHEN t > 0 THEN user_id END) AS BIGINT)",
                ))
                .expr(Expr::cust("CAST(SUM(l) AS BIGINT)"))
                .expr(Expr::cust("CAST(SUM(s) AS BIGINT)"))
                .expr(Expr::cust("CAST(SUM(c) AS BIGINT)"))
                .from_subquery(per_user, Alias::new("per_user"))
                .add_group_by(grouped.into_iter().map(Expr::col))
                .and_having(Expr::cust("SUM(t) > 0"))
                .limit(row_limit(max_rows).unsigned_abs());
            let statement = self.dialect.backend().build(&select);
            for row in &self.db.query_all_raw(statement).await? {
                let mut at = 0;
                let start = shape.decode_bucket(row, &mut at, zone)?;
                let count = |i: usize| row.try_get_by_index::<i64>(at + i);
                let entry = rows.entry(start).or_insert_with(|| empty(start));
                entry.logins = count(0)?;
                entry.distinct_users = count(1)?;
                entry.ldap = count(2)?;
                entry.saml = count(3)?;
                entry.local = count(4)?;
            }
        }
        if filter.admits_name(LOGOUT) {
            let mut logouts = filter.clone();
            logouts.within_names = Some(&[LOGOUT]);
            let grouping = Grouping {
                keys: Vec::new(),
                bucket: Some(bucket),
                zone: zone.clone(),
                limit: None,
            };
            for row in self.event_counts(&logouts, &grouping, max_rows).await? {
                let Some(start) = row.bucket_start else {
                    continue;
                };
                rows.entry(start).or_insert_with(|| empty(start)).logouts = row.count;
            }
        }
        Ok(rows.into_values().take(max_rows).collect())
    }

    /// The first and last time of the events matching `filter`.
    pub async fn span(&self, filter: &EventFilter) -> Result<Span, StoreError> {
        let span = UserEvents::find()
            .select_only()
            .expr(Func::min(Expr::col(Column::CreatedAt)))
            .expr(Func::max(Expr::col(Column::CreatedAt)))
            .filter(filter.condition(self.dialect))
            .into_tuple::<(Option<StoredTime>, Option<StoredTime>)>()
            .one(&self.db)
            .await?;
        Ok(match span {
            Some((first, last)) => Span {
                first: first.map(|t| t.at),
                last: last.map(|t| t.at),
            },
            None => Span::default(),
        })
    }
}
