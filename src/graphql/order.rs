//! Answers in the document's field order.
//!
//! The GraphQL spec orders the keys of every object in a response as the document orders the
//! fields that produced them. The engine resolves the fields of a selection concurrently and keeps
//! them in the order they finish, so a field that awaits the database (`totalCount`, `user`)
//! comes out last. This extension keeps the parsed document of each request and puts every
//! object of its answer back in document order. The direct path writes in document order by
//! construction; a differential test holds the two to the same bytes.
//!
//! The schema has no unions or interfaces, so every fragment applies to the object it is spread
//! in, and the fields of a selection are its fields and its fragments' in document order.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Response, ServerResult, Value, Variables};

/// Installs the reordering on a schema.
pub struct DocumentOrder;

impl ExtensionFactory for DocumentOrder {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentOrderExtension::default())
    }
}

#[derive(Default)]
struct DocumentOrderExtension {
    /// The request's document and variables, once parsed.
    parsed: Mutex<Option<(ExecutableDocument, Variables)>>,
}

#[async_trait::async_trait]
impl Extension for DocumentOrderExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Ok(mut parsed) = self.parsed.lock() {
            *parsed = Some((document.clone(), variables.clone()));
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let parsed = self.parsed.lock().ok().and_then(|mut p| p.take());
        if let Some((document, variables)) = parsed {
            if let Some(set) = operation(&document, operation_name) {
                let order = Order {
                    document: &document,
                    variables: &variables,
                };
                order.object(&mut response.data, &[set]);
            }
        }
        response
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
    /// Puts `value` (an object, or a list of them at any depth) in the order of `sets`, the
    /// selection sets that produced it, and recurses into its fields.
    fn object(&self, value: &mut Value, sets: &[&'d SelectionSet]) {
        match value {
            Value::List(items) => {
                for item in items {
                    self.object(item, sets);
                }
            }
            Value::Object(map) => {
                let mut keys: Vec<(Name, Vec<&'d SelectionSet>)> = Vec::new();
                for set in sets {
                    self.collect(set, &mut keys, 0);
                }
                let position = |key: &Name| {
                    keys.iter()
                        .position(|(k, _)| k == key)
                        .unwrap_or(usize::MAX)
                };
                map.sort_by_cached_key(|key, _| position(key));
                for (key, field) in map.iter_mut() {
                    if let Some((_, inner)) = keys.iter().find(|(k, _)| k == key) {
                        if !inner.is_empty() {
                            self.object(field, inner);
                        }
                    }
                }
            }
            _ => {}
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
