//! The busiest users, addresses or user agents over a range, from the key counts on PostgreSQL:
//! the range is cut into whole UTC months (the monthly key counts, plus the daily deltas of
//! those months that the fold has not carried to them yet), the whole days at either end (the
//! daily ones) and what is left inside a day at either end (the events), and one statement adds
//! each key's parts and keeps the largest. It gives the events' answer exactly, down to the
//! order of ties.

use entity::stored::StoredUuid;
use entity::user_events_keys_daily::Column as Daily;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement, UnionType};
use sea_orm::{ConnectionTrait, IdenStatic};

use super::parts::{Grain, parts};
use super::source::Source;
use super::statement::{key_expression, row_limit};
use super::{GroupKey, GroupValues, UsageRow};
use crate::store::filter::EventFilter;
use crate::store::{Store, StoreError};

/// The column of each part's key and count.
const KEY: &str = "key";
const COUNT: &str = "c";

impl Store {
    /// Events per value of `key` (the key counts' `column`) over `filter`'s range, the `limit`
    /// largest (all, without one), at most `max_rows` rows. The caller has checked that the
    /// filter holds nothing but time bounds.
    pub(super) async fn key_counts(
        &self,
        filter: &EventFilter,
        key: GroupKey,
        column: &'static str,
        limit: Option<u64>,
        max_rows: usize,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let ladder = [
            (Source::KeysDaily, Grain::Day),
            (Source::KeysMonthly, Grain::Month),
        ];
        let mut statements =
            parts(filter.from, filter.to, &ladder)
                .into_iter()
                .flat_map(|(source, from, to)| {
                    let mut part = filter.clone();
                    (part.from, part.to) = (from, to);
                    self.key_parts(source, key, column, &part)
                });
        let Some(mut union) = statements.next() else {
            return Ok(Vec::new());
        };
        for other in statements {
            union.union(UnionType::All, other);
        }
        // Events without a user are kept under the empty text.
        let value = match key {
            GroupKey::User => format!("CAST(NULLIF({KEY}, '') AS UUID)"),
            _ => KEY.to_owned(),
        };
        let total = Alias::new("total");
        let rows = Ord::min(
            limit.unwrap_or(u64::MAX),
            row_limit(max_rows).unsigned_abs(),
        );
        let select = Query::select()
            .expr(Expr::cust(value))
            .expr_as(
                Expr::cust(format!("CAST(SUM({COUNT}) AS BIGINT)")),
                total.clone(),
            )
            .from_subquery(union, Alias::new("parts"))
            .group_by_col(Alias::new(KEY))
            // Key counts emptied by deletions stay behind with a zero.
            .and_having(Expr::cust(format!("SUM({COUNT}) > 0")))
            // The events' order of ties: a user id's text sorts as the id does, text by bytes,
            // and the empty text (no user) first, as the events put a null.
            .order_by(total, Order::Desc)
            .order_by_expr(
                Expr::cust(format!("{KEY}{}", self.dialect.byte_order())),
                Order::Asc,
            )
            .limit(rows)
            .to_owned();
        let found = self
            .reads()
            .query_all_raw(self.dialect.backend().build(&select))
            .await?;
        found
            .iter()
            .map(|row| {
                let mut group = GroupValues::default();
                match key {
                    GroupKey::User => {
                        group.user_id = row
                            .try_get_by_index::<Option<StoredUuid>>(0)?
                            .map(|id| id.0)
                    }
                    GroupKey::IpAddress => group.ip_address = Some(row.try_get_by_index(0)?),
                    _ => group.user_agent = Some(row.try_get_by_index(0)?),
                }
                Ok(UsageRow {
                    bucket_start: None,
                    group,
                    events: row.try_get_by_index(1)?,
                    cpu: 0.0,
                    memory_gib: 0.0,
                    gpu: 0,
                })
            })
            .collect()
    }

    /// The statements that count one part of the range by key: `SELECT key, count ... GROUP BY
    /// key` over the events (their own column, as text), the daily key counts, or the monthly
    /// ones and the daily deltas of those months not carried to them yet.
    fn key_parts(
        &self,
        source: Source,
        key: GroupKey,
        column: &'static str,
        filter: &EventFilter,
    ) -> Vec<SelectStatement> {
        let counts = |source: Source, fresh_only: bool| {
            let mut select = Query::select();
            select
                .expr_as(Expr::col(Alias::new(column)), Alias::new(KEY))
                .expr_as(Expr::cust(source.count()), Alias::new(COUNT))
                .from(Alias::new(source.table()))
                .cond_where(filter.condition_on_time(self.dialect, source.time()))
                .group_by_col(Alias::new(KEY));
            if fresh_only {
                select.and_where(Expr::col(Daily::Fresh).eq(true));
            }
            select
        };
        match source {
            Source::Events => {
                let events = Query::select()
                    .expr_as(
                        Expr::cust(format!(
                            "COALESCE(CAST({} AS TEXT), '')",
                            key_expression(key)
                        )),
                        Alias::new(KEY),
                    )
                    .expr_as(Expr::cust("COUNT(*)"), Alias::new(COUNT))
                    .from(Alias::new(source.table()))
                    .cond_where(filter.condition_on(self.dialect, source.time()))
                    .group_by_col(Alias::new(KEY))
                    .to_owned();
                vec![events]
            }
            Source::KeysMonthly => vec![
                counts(Source::KeysMonthly, false),
                counts(Source::KeysDaily, true),
            ],
            _ => vec![counts(source, false)],
        }
    }

    /// `SELECT <events of one user over all time>` from the key counts, for `user` (SQL text of
    /// the user id as text): the user's monthly rows, found by the index on the MD5 of the
    /// user, and their daily deltas not carried to them yet.
    pub(in crate::store) fn user_total(user: &str) -> SelectStatement {
        let part = |source: Source, fresh_only: bool| {
            let key = Daily::UserKey.as_str();
            let mut select = Query::select();
            select
                .expr_as(Expr::cust(source.count()), Alias::new(COUNT))
                .from(Alias::new(source.table()))
                .and_where(Expr::cust(format!("{key} = {user}")));
            // Both parts are found by an index on the MD5 of the user (the daily one's holds
            // only the deltas not carried yet).
            select.and_where(Expr::cust(format!("md5({key}) = md5({user})")));
            if fresh_only {
                select.and_where(Expr::col(Daily::Fresh).eq(true));
            }
            select
        };
        let mut union = part(Source::KeysMonthly, false);
        union.union(UnionType::All, part(Source::KeysDaily, true));
        Query::select()
            .expr(Expr::cust(format!(
                "CAST(COALESCE(SUM({COUNT}), 0) AS BIGINT)"
            )))
            .from_subquery(union, Alias::new("parts"))
            .to_owned()
    }
}
