//! Limits the engine does not keep by itself: the number of aliases in a document (an alias
//! flood repeats an expensive field under many names), and the report rows a request may
//! return (a report grouped finely enough returns about one row per event).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerResult, Variables};

use crate::graphql::error::LIMIT_EXCEEDED;

/// Refuses a document with more aliased fields than this.
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Aliased fields in the whole document: every operation and fragment counted once.
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| aliases(&op.node.selection_set.node))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|f| aliases(&f.node.selection_set.node))
        .sum();
    operations + fragments
}

#[async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let found = count_aliases(&document);
        if found > self.0 {
            let error = async_graphql::Error::new(format!(
                "the document has {found} aliases; at most {} are allowed",
                self.0
            ))
            .extend_with(|_, e| e.set("code", LIMIT_EXCEEDED));
            return Err(error.into_server_error(async_graphql::Pos::default()));
        }
        Ok(document)
    }
}

/// The subscriptions one WebSocket connection may still open (attached at `connection_init`).
#[derive(Clone, Debug)]
pub struct SubscriptionSlots {
    open: Arc<std::sync::atomic::AtomicUsize>,
    max: usize,
}

/// A subscription's place on its connection, given back when the subscription ends.
pub struct SubscriptionSlot(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl SubscriptionSlots {
    /// At most `max` subscriptions at once.
    pub fn new(max: usize) -> SubscriptionSlots {
        SubscriptionSlots {
            open: Arc::default(),
            max,
        }
    }

    /// Takes a place, or says why there is none.
    pub fn take(&self) -> async_graphql::Result<SubscriptionSlot> {
        let before = self.open.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let slot = SubscriptionSlot(self.open.clone());
        if before >= self.max {
            drop(slot);
            return Err(async_graphql::Error::new(format!(
                "a connection holds at most {} subscriptions",
                self.max
            ))
            .extend_with(|_, e| e.set("code", LIMIT_EXCEEDED)));
        }
        Ok(slot)
    }
}

/// The report rows a request may still return: one budget shared by every report field of the
/// request (aliases included), and by every operation it is attached to.
///
/// [`ReportRowBudget`] gives each request that comes without one a budget of its own
/// (`--max-report-rows`). A batched POST shares one between its operations by attaching the
/// same budget to each of them before they run:
///
/// ```
/// # use user_events::graphql::limits::ReportRows;
/// let budget = ReportRows::new(10_000);
/// let batch: Vec<async_graphql::Request> = vec!["{ a }".into(), "{ b }".into()];
/// let batch: Vec<async_graphql::Request> =
///     batch.into_iter().map(|request| budget.attach(request)).collect();
/// # assert_eq!(batch.len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct ReportRows {
    remaining: Arc<std::sync::atomic::AtomicUsize>,
    max: usize,
}

/// A report would take the request past its budget of report rows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the reports of this request would return more than {max} rows, the most the server \
     returns (--max-report-rows {max}); narrow the filter or the bucket, or ask for fewer rows \
     with `limit`"
)]
pub struct TooManyReportRows {
    /// The budget of the request.
    pub max: usize,
}

impl ReportRows {
    /// A budget of `max` rows.
    pub fn new(max: usize) -> ReportRows {
        ReportRows {
            remaining: Arc::new(std::sync::atomic::AtomicUsize::new(max)),
            max,
        }
    }

    /// `request`, drawing its reports' rows from this budget.
    pub fn attach(&self, request: async_graphql::Request) -> async_graphql::Request {
        request.data(self.clone())
    }

    /// The request's budget (a budget of the server's limit for this field alone if the request
    /// somehow has none).
    pub fn of(ctx: &async_graphql::Context<'_>) -> ReportRows {
        match ctx.data_opt::<ReportRows>() {
            Some(budget) => budget.clone(),
            None => ReportRows::new(
                ctx.data_opt::<ReportRowBudget>()
                    .map_or(crate::config::defaults::MAX_REPORT_ROWS, |limit| limit.0),
            ),
        }
    }

    /// The rows to ask the store for: one more than remain, so that an answer over the budget
    /// is known without reading it whole.
    pub fn ask(&self) -> usize {
        self.remaining
            .load(std::sync::atomic::Ordering::Acquire)
            .saturating_add(1)
    }

    /// [`ReportRows::take`] at the GraphQL edge: refused, a `LIMIT_EXCEEDED` naming the limit.
    pub fn spend(&self, rows: usize) -> async_graphql::Result<()> {
        self.take(rows).map_err(|e| e.extend())
    }

    /// Takes `rows` from the budget, or refuses them all if fewer remain.
    pub fn take(&self, rows: usize) -> Result<(), TooManyReportRows> {
        self.remaining
            .fetch_update(
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
                |remaining| remaining.checked_sub(rows),
            )
            .map(drop)
            .map_err(|_| TooManyReportRows { max: self.max })
    }
}

/// Gives every request that comes without a [`ReportRows`] budget one of this many rows
/// (queries, mutations and subscriptions alike, over HTTP, WebSocket and SSE).
#[derive(Copy, Clone, Debug)]
pub struct ReportRowBudget(pub usize);

impl ExtensionFactory for ReportRowBudget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ReportRowBudgetExtension(self.0))
    }
}

struct ReportRowBudgetExtension(usize);

#[async_trait::async_trait]
impl Extension for ReportRowBudgetExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        let attached = request
            .data
            .contains_key(&std::any::TypeId::of::<ReportRows>());
        let request = if attached {
            request
        } else {
            ReportRows::new(self.0).attach(request)
        };
        next.run(ctx, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_taken_whole_or_not_at_all() {
        let budget = ReportRows::new(10);
        assert_eq!(budget.ask(), 11);
        assert_eq!(budget.take(4), Ok(()));
        assert_eq!(budget.clone().take(6), Ok(()));
        assert_eq!(budget.ask(), 1);
        assert_eq!(budget.take(1), Err(TooManyReportRows { max: 10 }));
        assert_eq!(budget.take(0), Ok(()));
        let message = TooManyReportRows { max: 10 }.to_string();
        assert!(message.contains("--max-report-rows 10"), "{message}");
    }
}
