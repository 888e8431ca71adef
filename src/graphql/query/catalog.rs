//! `eventCatalog` and `categoryCounts`.

use async_graphql::{Context, Object};

use crate::catalog::CATALOG;
use crate::graphql::error::{OrInternal, store};
use crate::graphql::limits::ReportRows;
use crate::graphql::types::{CategoryCount, EventFilterInput, EventTypeInfo, Flat};

/// The catalog of tracked events and counts by category.
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Every tracked event of the product documentation: kind, name, category, documentation.
    async fn event_catalog(&self) -> Flat<EventTypeInfo> {
        CATALOG.iter().map(EventTypeInfo).collect()
    }

    /// Events per category, one row per category that has events, count descending, then
    /// category name. Its rows count toward `--max-report-rows` like `eventCounts`.
    async fn category_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which events count: every condition given must hold (see EventFilter); none means every event the token may read."
        )]
        filter: Option<EventFilterInput>,
    ) -> async_graphql::Result<Flat<CategoryCount>> {
        let filter = EventFilterInput::into_store(ctx, filter, "filter")?;
        let budget = ReportRows::of(ctx);
        let _turn = budget.turn().await;
        let counts = store(ctx)
            .category_counts(&filter, budget.ask())
            .await
            .or_internal()?;
        budget.spend(counts.len())?;
        Ok(counts
            .into_iter()
            .map(|(category, count)| CategoryCount { category, count })
            .collect())
    }
}
