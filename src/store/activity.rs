//! Activity reports: logins per bucket, and the span of one user's (or any filter's) events.

use chrono::NaiveDateTime;
use entity::stored::StoredTime;
use entity::user_events::{Column, Entity as UserEvents};
use jiff::tz::TimeZone;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::filter::EventFilter;
use super::report::{Shape, row_limit};
use super::{Store, StoreError, TimeBucket};

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
        let segments = self.zone_segments(filter, zone).await?;
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
