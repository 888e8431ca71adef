//! Answers in the document's field order.
//!
//! The GraphQL spec orders the keys of every object in a response as the document orders the
//! fields that produced them. The engine resolves the fields of a selection concurrently and keeps
//! them in the order they finish, so a field that awaits the database (`totalCount`, `user`)
//! comes out last. The parsed document of each request is kept, and every object of its answer
//! is put back in document order. The direct path writes in document order by
//! construction; a differential test holds the two to the same bytes.
//!
//! The schema has no unions or interfaces, so every fragment applies to the object it is spread
//! in, and the fields of a selection are its fields and its fragments' in document order.

use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Response, Value, Variables};

/// A request's parsed document, kept from parsing until its answer is written; for a
/// subscription, only the order its events are written in. (Held by each request's
/// [`super::pipeline`].)
#[derive(Default)]
pub struct KeptDocument {
    parsed: Mutex<Option<(Arc<ExecutableDocument>, Variables)>>,
    /// The order of a subscription's events, shared with its stream.
    events: Arc<Mutex<Option<Arc<Plan>>>>,
}

impl KeptDocument {
    /// Keeps the document and the variables it ran with; not a document of subscriptions only,
    /// whose events do not pass through here (so their fields come in the engine's order) and
    /// which would otherwise hold the document for the subscription's life.
    pub fn keep(&self, document: &Arc<ExecutableDocument>, variables: &Variables) {
        let answered_once = document
            .operations
            .iter()
            .any(|(_, operation)| operation.node.ty != OperationType::Subscription);
        if !answered_once {
            // A subscription document has one operation; its plan is all its events need.
            if let (Some(set), Ok(mut events)) = (operation(document, None), self.events.lock()) {
                let order = Order {
                    document,
                    variables,
                };
                *events = Some(Arc::new(order.plan(&[set])));
            }
            return;
        }
        if let Ok(mut parsed) = self.parsed.lock() {
            *parsed = Some((document.clone(), variables.clone()));
        }
    }

    /// A function that puts each event of the subscription in the document's order (its plan
    /// is made when the document is parsed, after the stream is set up).
    pub fn event_order(&self) -> impl Fn(&mut Response) + Send + Sync + 'static {
        let events = self.events.clone();
        move |response: &mut Response| {
            let plan = events.lock().ok().and_then(|plan| plan.clone());
            if let Some(plan) = plan {
                plan.apply(&mut response.data);
            }
        }
    }

    /// Puts the answer of `operation_name` in the document's order.
    pub fn restore(&self, response: &mut Response, operation_name: Option<&str>) {
        // No data (a refusal, or an answer the direct path wrote itself): nothing to order.
        if response.data == Value::Null {
            return;
        }
        let Ok(parsed) = self.parsed.lock() else {
            return;
        };
        if let Some((document, variables)) = parsed.as_ref() {
            if let Some(set) = operation(document, operation_name) {
                let order = Order {
                    document,
                    variables,
                };
                order.plan(&[set]).apply(&mut response.data);
            }
        }
    }
}

/// The response keys of a selection in document order, each with the plan of its own selection:
/// worked out once per request, then applied to every object the selection produced.
#[derive(Default)]
struct Plan {
    keys: Vec<(Name, Plan)>,
}

impl Plan {
    /// Puts `value` (an object, or a list of them at any depth) in this order, and its fields
    /// in theirs.
    fn apply(&self, value: &mut Value) {
        match value {
            Value::List(items) => {
                for item in items {
                    self.apply(item);
                }
            }
            Value::Object(map) if !self.keys.is_empty() => {
                let position = |key: &Name| {
                    self.keys
                        .iter()
                        .position(|(k, _)| k == key)
                        .unwrap_or(usize::MAX)
                };
                let in_order = map
                    .keys()
                    .map(position)
                    .try_fold(0, |last, at| (at >= last).then_some(at))
                    .is_some();
                if !in_order {
                    map.sort_by(|a, _, b, _| position(a).cmp(&position(b)));
                }
                for (key, field) in map.iter_mut() {
                    if let Some((_, inner)) = self.keys.iter().find(|(k, _)| k == key) {
                        inner.apply(field);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The selection set of the operation that ran.
fn operation<'d>(document: &'d ExecutableDocument, name: Option<&str>) -> Option<&'d SelectionSet> {
    let operation = match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name)?,
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()?
        }
        (DocumentOperations::Multiple(_), None) => return None,
    };
    Some(&operation.node.selection_set.node)
}

/// Fragments nest at most this deep here (validation refuses cycles; this only bounds work).
const MAX_FRAGMENT_DEPTH: usize = 64;

struct Order<'d> {
    document: &'d ExecutableDocument,
    variables: &'d Variables,
}

impl<'d> Order<'d> {
    /// The plan of the fields that `sets` (the selection sets of one response key) select.
    fn plan(&self, sets: &[&'d SelectionSet]) -> Plan {
        let mut keys: Vec<(Name, Vec<&'d SelectionSet>)> = Vec::new();
        for set in sets {
            self.collect(set, &mut keys, 0);
        }
        Plan {
            keys: keys
                .into_iter()
                .map(|(key, inner)| {
                    let inner: Vec<&'d SelectionSet> =
                        inner.into_iter().filter(|s| !s.items.is_empty()).collect();
                    let plan = if inner.is_empty() {
                        Plan::default()
                    } else {
                        self.plan(&inner)
                    };
                    (key, plan)
                })
                .collect(),
        }
    }

    /// The response keys of `set` in document order, fragments expanded where they stand, each
    /// with the selection sets of its fields.
    fn collect(
        &self,
        set: &'d SelectionSet,
        keys: &mut Vec<(Name, Vec<&'d SelectionSet>)>,
        depth: usize,
    ) {
        if depth > MAX_FRAGMENT_DEPTH {
            return;
        }
        for selection in &set.items {
            if !self.included(selection) {
                continue;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.clone();
                    let inner = &field.node.selection_set.node;
                    match keys.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, sets)) => sets.push(inner),
                        None => keys.push((key, vec![inner])),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) =
                        self.document.fragments.get(&spread.node.fragment_name.node)
                    {
                        self.collect(&fragment.node.selection_set.node, keys, depth + 1);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.collect(&fragment.node.selection_set.node, keys, depth + 1);
                }
            }
        }
    }

    /// Whether `@skip` and `@include` keep a selection.
    fn included(&self, selection: &Positioned<Selection>) -> bool {
        selection.node.directives().iter().all(|directive| {
            // A condition this cannot read (a variable left to its default) keeps the field:
            // ordering a key that is absent costs nothing.
            let condition = directive
                .node
                .get_argument("if")
                .and_then(|value| {
                    value
                        .node
                        .clone()
                        .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                        .ok()
                })
                .and_then(|value| match value {
                    Value::Boolean(holds) => Some(holds),
                    _ => None,
                });
            match directive.node.name.node.as_str() {
                "skip" => condition != Some(true),
                "include" => condition != Some(false),
                _ => true,
            }
        })
    }
}
