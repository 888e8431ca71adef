//! Activity reports: logins per bucket, and the span of one user's (or any filter's) events.

use chrono::NaiveDateTime;
use entity::stored::StoredTime;
use entity::user_events::{Column, Entity as UserEvents};
use jiff::tz::TimeZone;
use sea_orm::sea_query::{
    CommonTableExpression, Condition, Expr, ExprTrait, Func, JoinType, Query, SelectStatement,
    WithClause,
};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Statement};

use std::collections::BTreeMap;

use entity::user_events_login_ordinals::Entity as Ordinals;
use entity::user_events_login_sets::{Column as SetColumn, Entity as Sets};
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

/// The parts of [`Store::logins_from_sets`]'s statement.
const DIRTY: &str = "dirty";
const CLEAN: &str = "clean";
const CLEAN_BUCKETS: &str = "clean_b";
const DIRTY_USERS: &str = "dirty_u";
const DIRTY_BUCKETS: &str = "dirty_b";

/// `name AS (select)`, for a `WITH`.
fn table(select: SelectStatement, name: &str) -> CommonTableExpression {
    CommonTableExpression::new()
        .query(select)
        .table_name(Alias::new(name))
        .to_owned()
}
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
        let rows = self.reads().query_all_raw(statement).await?;
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
            let statement = self.logins_from_sets(filter, bucket, segments, max_rows);
            let shape = Shape::new(self.dialect, Some(bucket), segments);
            for row in &self.reads().query_all_raw(statement).await? {
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

    /// Logins, distinct users and logins by method per bucket, from the login sets for the hours
    /// without unfolded deltas and from the login rollup's rows for the others: `SELECT bucket,
    /// logins, distinct users, ldap, saml, local`. A user counts once a bucket: their bit in
    /// the OR of its clean hours' sets, or, when that bit is not set, their logins in its other
    /// hours summing above zero (deltas of deleted logins included).
    fn logins_from_sets(
        &self,
        filter: &EventFilter,
        bucket: TimeBucket,
        segments: &[Segment],
        max_rows: usize,
    ) -> Statement {
        let shape = |source| Shape::new(self.dialect, Some(bucket), segments).on(source);
        let range = |source: Source| filter.condition_on_time(self.dialect, source.time());
        let hour = LoginColumn::HourStart.as_str();
        let (n, method) = (LoginColumn::N.as_str(), LoginColumn::Method.as_str());
        let by_method =
            |name: &str| format!("SUM(CASE WHEN {method} = '{name}' THEN {n} ELSE 0 END)");
        let names = |prefix: &str, grouped: &[Alias]| -> Vec<String> {
            grouped.iter().map(|a| format!("{prefix}{}", a.0)).collect()
        };
        // Hours with deltas the fold has not reached.
        let dirty = Query::select()
            .distinct()
            .column(LoginColumn::HourStart)
            .from(Logins)
            .and_where(Expr::col(LoginColumn::Fresh).eq(true))
            .cond_where(range(Source::LoginsHourly))
            .to_owned();
        // The other hours' sets, padded to one width so that they can be OR'ed.
        let mut clean = Query::select();
        let grouped = shape(Source::LoginSets).bucket_columns(&mut clean, bucket);
        clean
            .columns([
                SetColumn::Users,
                SetColumn::Logins,
                SetColumn::Ldap,
                SetColumn::Saml,
                SetColumn::Local,
            ])
            .from(Sets)
            .cond_where(range(Source::LoginSets))
            .and_where(Expr::cust(format!(
                "{hour} NOT IN (SELECT {hour} FROM {DIRTY})"
            )));
        let mut clean_b = Query::select();
        clean_b
            .columns(grouped.iter().cloned())
            .expr_as(
                Expr::cust("bit_or(users || substring(w.z FROM 1 FOR w.n - length(users)))"),
                Alias::new("users"),
            )
            .expr_as(Expr::cust("SUM(logins)"), Alias::new("t"))
            .expr_as(Expr::cust("SUM(ldap)"), Alias::new("l"))
            .expr_as(Expr::cust("SUM(saml)"), Alias::new("s"))
            .expr_as(Expr::cust("SUM(local)"), Alias::new("c"))
            .from(Alias::new(CLEAN))
            .join(JoinType::CrossJoin, Alias::new("w"), Condition::all())
            .add_group_by(grouped.iter().cloned().map(Expr::col));
        let mut width = Query::select();
        width
            .expr_as(
                Expr::cust("CAST(repeat('0', COALESCE(MAX(length(users)), 0)) AS BIT VARYING)"),
                Alias::new("z"),
            )
            .expr_as(
                Expr::cust("COALESCE(MAX(length(users)), 0)"),
                Alias::new("n"),
            )
            .from(Alias::new(CLEAN));
        // Per bucket and user over the dirty hours.
        let mut dirty_u = Query::select();
        shape(Source::LoginsHourly).bucket_columns(&mut dirty_u, bucket);
        dirty_u
            .column(LoginColumn::UserId)
            .expr_as(Expr::cust(format!("SUM({n})")), Alias::new("t"))
            .expr_as(Expr::cust(by_method("LDAP")), Alias::new("l"))
            .expr_as(Expr::cust(by_method("SAML")), Alias::new("s"))
            .expr_as(Expr::cust(by_method("LOCAL")), Alias::new("c"))
            .from(Logins)
            .cond_where(range(Source::LoginsHourly))
            .and_where(Expr::cust(format!(
                "{hour} IN (SELECT {hour} FROM {DIRTY})"
            )))
            .add_group_by(grouped.iter().cloned().map(Expr::col))
            .add_group_by([Expr::col(LoginColumn::UserId)]);
        let same = |a: &str, b: &str| {
            grouped
                .iter()
                .map(|g| format!("{a}.{g} = {b}.{g}", g = g.0))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let mut dirty_b = Query::select();
        dirty_b
            .exprs(names("d.", &grouped).into_iter().map(Expr::cust))
            .expr_as(Expr::cust("SUM(d.t)"), Alias::new("t"))
            .expr_as(Expr::cust("SUM(d.l)"), Alias::new("l"))
            .expr_as(Expr::cust("SUM(d.s)"), Alias::new("s"))
            .expr_as(Expr::cust("SUM(d.c)"), Alias::new("c"))
            .expr_as(
                Expr::cust(concat!(
                    "COUNT(CASE WHEN d.t > 0 AND d.user_id IS NOT NULL AND NOT (CASE ",
                    "WHEN k.users IS NOT NULL AND o.ordinal < length(k.users) ",
                    "THEN get_bit(k.users, o.ordinal) = 1 ELSE false END) THEN 1 END)",
                )),
                Alias::new("extra"),
            )
            .from_as(Alias::new(DIRTY_USERS), Alias::new("d"))
            .join_as(
                JoinType::LeftJoin,
                Alias::new(CLEAN_BUCKETS),
                Alias::new("k"),
                Expr::cust(same("k", "d")),
            )
            .join_as(
                JoinType::LeftJoin,
                Ordinals,
                Alias::new("o"),
                Expr::cust("o.user_id = d.user_id"),
            )
            .add_group_by(names("d.", &grouped).into_iter().map(Expr::cust));
        let both = |column: &str| format!("COALESCE(k.{column}, 0) + COALESCE(d.{column}, 0)");
        let mut answer = Query::select();
        for g in &grouped {
            answer.expr(Expr::cust(format!("COALESCE(k.{g}, d.{g})", g = g.0)));
        }
        answer
            .expr(Expr::cust(format!("CAST({} AS BIGINT)", both("t"))))
            .expr(Expr::cust(
                "CAST(COALESCE(bit_count(k.users), 0) + COALESCE(d.extra, 0) AS BIGINT)",
            ))
            .expr(Expr::cust(format!("CAST({} AS BIGINT)", both("l"))))
            .expr(Expr::cust(format!("CAST({} AS BIGINT)", both("s"))))
            .expr(Expr::cust(format!("CAST({} AS BIGINT)", both("c"))))
            .from_as(Alias::new(CLEAN_BUCKETS), Alias::new("k"))
            .join_as(
                JoinType::FullOuterJoin,
                Alias::new(DIRTY_BUCKETS),
                Alias::new("d"),
                Expr::cust(same("k", "d")),
            )
            .and_where(Expr::cust(format!("{} > 0", both("t"))))
            .limit(row_limit(max_rows).unsigned_abs());
        let with = WithClause::new()
            .cte(table(dirty, DIRTY))
            .cte(table(clean, CLEAN))
            .cte(table(width, "w"))
            .cte(table(clean_b, CLEAN_BUCKETS))
            .cte(table(dirty_u, DIRTY_USERS))
            .cte(table(dirty_b, DIRTY_BUCKETS))
            .to_owned();
        self.dialect.backend().build(&answer.with(with))
    }

    /// The first and last time of the events matching `filter`.
    pub async fn span(&self, filter: &EventFilter) -> Result<Span, StoreError> {
        let span = UserEvents::find()
            .select_only()
            .expr(Func::min(Expr::col(Column::CreatedAt)))
            .expr(Func::max(Expr::col(Column::CreatedAt)))
            .filter(filter.condition(self.dialect))
            .into_tuple::<(Option<StoredTime>, Option<StoredTime>)>()
            .one(self.reads())
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
