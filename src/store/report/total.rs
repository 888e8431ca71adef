//! How many events a filter matches, from the rollups wherever they answer exactly: the range is
//! cut into whole UTC days (the daily rollup), the whole hours at either end (the hourly rollup)
//! and what is left inside an hour at either end (the events), and one statement adds the parts.
//! A filter on anything the rollups do not keep (users, addresses, text) counts the events.

use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement, UnionType};
use sea_orm::{ConnectionTrait, QueryResult};

use super::CountSource;
use super::parts::{Grain, parts};
use super::source::Source;
use crate::store::filter::EventFilter;
use crate::store::{Store, StoreError};

impl Store {
    /// How many events match `filter`.
    pub async fn count_events(&self, filter: &EventFilter) -> Result<i64, StoreError> {
        self.count_events_from(filter, CountSource::Auto).await
    }

    /// [`Store::count_events`], read from the source asked for (both give the same answer).
    pub async fn count_events_from(
        &self,
        filter: &EventFilter,
        source: CountSource,
    ) -> Result<i64, StoreError> {
        let parts = match source {
            CountSource::Auto if filter.fits_rollup_but_bounds() => parts(
                filter.from,
                filter.to,
                &[(Source::Hourly, Grain::Hour), (Source::Daily, Grain::Day)],
            ),
            _ => vec![(Source::Events, filter.from, filter.to)],
        };
        let mut statements = parts.into_iter().map(|(source, from, to)| {
            let mut part = filter.clone();
            (part.from, part.to) = (from, to);
            self.count_part(source, &part)
        });
        let Some(mut union) = statements.next() else {
            return Ok(0);
        };
        for other in statements {
            union.union(UnionType::All, other);
        }
        let total = Query::select()
            .expr(Expr::cust(format!(
                "CAST(COALESCE(SUM({PART}), 0) AS BIGINT)"
            )))
            .from_subquery(union, Alias::new("parts"))
            .to_owned();
        let row: Option<QueryResult> = self
            .reads()
            .query_one_raw(self.dialect.backend().build(&total))
            .await?;
        Ok(match row {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        })
    }

    /// `SELECT <count> AS part FROM <source> WHERE <filter>`.
    fn count_part(&self, source: Source, filter: &EventFilter) -> SelectStatement {
        Query::select()
            .expr_as(Expr::cust(source.count()), Alias::new(PART))
            .from(Alias::new(source.table()))
            .cond_where(filter.condition_on(self.dialect, source.time()))
            .to_owned()
    }
}

/// The name of each part's count.
const PART: &str = "part";
