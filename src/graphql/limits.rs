//! Limits the engine does not keep by itself: the number of aliases in a document (an alias
//! flood repeats an expensive field under many names), and the report rows a request may
//! return (a report grouped finely enough returns about one row per event).

use std::sync::Arc;

use async_graphql::extensions::ExtensionContext;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerResult};

use crate::graphql::error::LIMIT_EXCEEDED;

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

/// Refuses a document with more than `max` aliased fields (an alias flood repeats an
/// expensive field under many names).
pub fn check_aliases(document: &ExecutableDocument, max: usize) -> ServerResult<()> {
    let found = count_aliases(document);
    if found > max {
        let error = async_graphql::Error::new(format!(
            "the document has {found} aliases; at most {max} are allowed"
        ))
        .extend_with(|_, e| e.set("code", LIMIT_EXCEEDED));
        return Err(error.into_server_error(async_graphql::Pos::default()));
    }
    Ok(())
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

/// Fragment spreads nested deeper than this are refused before counting goes on.
const MAX_SPREAD_NESTING: usize = 64;

/// Selection sets nested deeper than this (fields, inline fragments and spreads each a level)
/// are refused: the engine reads no deeper while it prepares a document (its default
/// recursion limit), so this refusal comes first and says so with a code of its own.
const MAX_NESTING: usize = 32;

/// Why a document is refused before the engine validates it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentRefusal {
    /// The text is longer than allowed.
    #[error("the document has {bytes} bytes; at most {max} are allowed (--max-document-bytes)")]
    TooLong {
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// It selects more fields than allowed once its fragments are expanded.
    #[error(
        "the document selects more than {max} fields with its fragments expanded (--max-fields)"
    )]
    TooManyFields {
        /// The limit.
        max: usize,
    },
    /// Fragments spread each other too deep.
    #[error("fragment spreads are nested more than {MAX_SPREAD_NESTING} deep")]
    TooDeep,
    /// A fragment spreads itself.
    #[error("fragment \"{0}\" spreads itself")]
    Cycle(String),
    /// Selection sets nest deeper than the engine reads.
    #[error("the document nests selections more than {MAX_NESTING} deep, fragments included")]
    NestedPastReading,
    /// Selections are nested deeper than allowed.
    #[error("the document nests selections {depth} deep; at most {max} are allowed (--max-depth)")]
    NestedTooDeep {
        /// How deep.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// It would cost more than allowed (every field 1, a page's fields once per row).
    #[error("the request would cost {complexity}; at most {max} is allowed (--max-complexity)")]
    TooComplex {
        /// Its cost, with the request's variables.
        complexity: usize,
        /// The limit.
        max: usize,
    },
}

impl DocumentRefusal {
    /// The error a client sees.
    pub fn to_error(&self) -> async_graphql::Error {
        let code = match self {
            DocumentRefusal::Cycle(_) => crate::graphql::error::BAD_USER_INPUT,
            _ => LIMIT_EXCEEDED,
        };
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| e.set("code", code))
    }
}

/// Counts what the engine's validation would walk: every field of every operation and every
/// fragment definition, with fragment spreads expanded. Each fragment is counted once and
/// remembered, so the count costs time linear in the document, however its spreads multiply.
struct FieldCount<'a> {
    document: &'a ExecutableDocument,
    /// Each fragment's field count and nesting, once known.
    known: std::collections::HashMap<&'a str, Shape>,
    open: Vec<&'a str>,
    max: usize,
}

/// What a selection set holds: its fields with fragments expanded, and how deep its selection
/// sets nest as the engine measures it while preparing a document (a field with a selection, an
/// inline fragment and a spread each go one level down).
#[derive(Clone, Copy, Default)]
struct Shape {
    fields: usize,
    nesting: usize,
}

impl<'a> FieldCount<'a> {
    fn set(&mut self, set: &'a SelectionSet) -> Result<Shape, DocumentRefusal> {
        let mut total = Shape::default();
        for item in &set.items {
            let (fields, nesting) = match &item.node {
                Selection::Field(field) => {
                    let child = &field.node.selection_set.node;
                    let inner = self.set(child)?;
                    let below = if child.items.is_empty() {
                        0
                    } else {
                        1 + inner.nesting
                    };
                    (1usize.saturating_add(inner.fields), below)
                }
                Selection::InlineFragment(fragment) => {
                    let inner = self.set(&fragment.node.selection_set.node)?;
                    (inner.fields, 1 + inner.nesting)
                }
                Selection::FragmentSpread(spread) => {
                    match self.fragment(spread.node.fragment_name.node.as_str())? {
                        Some(inner) => (inner.fields, 1 + inner.nesting),
                        None => (0, 0),
                    }
                }
            };
            total.fields = total.fields.saturating_add(fields);
            total.nesting = total.nesting.max(nesting);
            if total.fields > self.max {
                return Err(DocumentRefusal::TooManyFields { max: self.max });
            }
            if total.nesting > MAX_NESTING {
                return Err(DocumentRefusal::NestedPastReading);
            }
        }
        Ok(total)
    }

    /// A fragment's shape; `None` for a fragment the document does not define (validation
    /// reports it).
    fn fragment(&mut self, name: &'a str) -> Result<Option<Shape>, DocumentRefusal> {
        if let Some(shape) = self.known.get(name) {
            return Ok(Some(*shape));
        }
        let Some((key, definition)) = self.document.fragments.get_key_value(name) else {
            return Ok(None);
        };
        if self.open.contains(&name) {
            return Err(DocumentRefusal::Cycle(name.to_string()));
        }
        if self.open.len() >= MAX_SPREAD_NESTING {
            return Err(DocumentRefusal::TooDeep);
        }
        self.open.push(name);
        let shape = self.set(&definition.node.selection_set.node)?;
        self.open.pop();
        self.known.insert(key.as_str(), shape);
        Ok(Some(shape))
    }
}

/// Refuses a document that is too long or that selects too many fields with its fragments
/// expanded; otherwise returns it parsed (`None` when it does not parse: the engine reports
/// why).
pub fn check_document(
    query: &str,
    max_bytes: usize,
    max_fields: usize,
) -> Result<Option<ExecutableDocument>, DocumentRefusal> {
    if query.len() > max_bytes {
        return Err(DocumentRefusal::TooLong {
            bytes: query.len(),
            max: max_bytes,
        });
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return Ok(None);
    };
    let mut count = FieldCount {
        document: &document,
        known: std::collections::HashMap::new(),
        open: Vec::new(),
        max: max_fields,
    };
    let mut total = 0usize;
    for (_, operation) in document.operations.iter() {
        total = total.saturating_add(count.set(&operation.node.selection_set.node)?.fields);
    }
    for name in document.fragments.keys() {
        let fields = count
            .fragment(name.as_str())?
            .map_or(0, |shape| shape.fields);
        total = total.saturating_add(fields);
    }
    if total > max_fields {
        return Err(DocumentRefusal::TooManyFields { max: max_fields });
    }
    Ok(Some(document))
}

/// Checks every document before the engine parses and validates it (see [`check_document`]),
/// and hands the engine the parsed document so that it is parsed once.
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimit {
    /// `--max-document-bytes`.
    pub max_bytes: usize,
    /// `--max-fields`.
    pub max_fields: usize,
    /// `--max-depth`, checked on the depth the engine's validation measures.
    pub max_depth: usize,
    /// `--max-complexity`, checked on the cost the engine's validation measures with the
    /// request's variables.
    pub max_complexity: usize,
}

/// Why a request's variables do not coerce, found before parsing and told once validation has
/// found nothing (its messages name the argument a bad value is given to, which says more).
pub type PendingVariableError = std::sync::Mutex<Option<async_graphql::ServerError>>;

impl DocumentLimit {
    /// Checks what validation measured (depth, and cost with the request's variables), then
    /// tells a bad variable kept by [`super::documents::Documents::prepare`].
    pub fn validated(
        &self,
        result: async_graphql::ValidationResult,
        pending: &PendingVariableError,
    ) -> Result<async_graphql::ValidationResult, Vec<async_graphql::ServerError>> {
        let refusal = if result.depth > self.max_depth {
            Some(DocumentRefusal::NestedTooDeep {
                depth: result.depth,
                max: self.max_depth,
            })
        } else if result.complexity > self.max_complexity {
            Some(DocumentRefusal::TooComplex {
                complexity: result.complexity,
                max: self.max_complexity,
            })
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let error = refusal
                .to_error()
                .into_server_error(async_graphql::Pos::default());
            return Err(vec![error]);
        }
        match pending.lock().ok().and_then(|mut slot| slot.take()) {
            Some(error) => Err(vec![error]),
            None => Ok(result),
        }
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
    /// Reports of the request that may read at once: each may hold up to the budget's rows
    /// before it knows it is refused, so this bounds what the request holds at once.
    turns: Arc<tokio::sync::Semaphore>,
}

/// Report queries of one budget that run at once.
const REPORTS_AT_ONCE: usize = 4;

/// A report would take the request past its budget of report rows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the reports of this request would return more than {max} rows, the most the server \
     returns (--max-report-rows {max}); narrow the range, use a wider bucket or fewer group \
     keys, or, where the report takes one, a smaller `limit`"
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
            turns: Arc::new(tokio::sync::Semaphore::new(REPORTS_AT_ONCE)),
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

    /// Waits for a report's turn to read: hold it from [`ReportRows::ask`] until the rows are
    /// taken or refused.
    pub async fn turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.turns.clone().acquire_owned().await.ok()
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

impl ReportRowBudget {
    /// `request`, with a budget of its own unless one is attached already (a batch's).
    pub fn attach_unless_given(&self, request: async_graphql::Request) -> async_graphql::Request {
        let attached = request
            .data
            .contains_key(&std::any::TypeId::of::<ReportRows>());
        if attached {
            request
        } else {
            ReportRows::new(self.0).attach(request)
        }
    }
}

/// A request that arrived over a stream (WebSocket or SSE): the engine keeps its time limit,
/// since no HTTP edge times it.
#[derive(Clone, Copy, Debug)]
pub struct Streamed;

/// Ends a query or mutation that runs past the request time limit with `LIMIT_EXCEEDED`, on
/// the transports whose edge does not time it (see [`Streamed`]). Subscriptions run on.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub std::time::Duration);

impl Deadline {
    /// Runs a query or mutation, ended with `LIMIT_EXCEEDED` past the limit when it came over a
    /// stream.
    pub async fn run(
        &self,
        ctx: &ExtensionContext<'_>,
        execute: impl std::future::Future<Output = async_graphql::Response>,
    ) -> async_graphql::Response {
        if ctx.data_opt::<Streamed>().is_none() {
            return execute.await;
        }
        match tokio::time::timeout(self.0, execute).await {
            Ok(response) => response,
            Err(_) => async_graphql::Response::from_errors(vec![
                timed_out(self.0).into_server_error(async_graphql::Pos::default()),
            ]),
        }
    }
}

/// The error of a request that ran out of time.
pub fn timed_out(limit: std::time::Duration) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "the request took longer than {} ms",
        limit.as_millis()
    ))
    .extend_with(|_, e| e.set("code", LIMIT_EXCEEDED))
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
