//! The direct path for the hottest request shapes: a page of `events` with plain fields, and a
//! page of sharing changes with their events' plain fields.
//!
//! The engine resolves every field of every row as its own future and builds a value tree before
//! serializing it; for a 50-row page that costs more CPU than the SQL. A document whose only root
//! field is `events` (or a sharing-changes page), selecting plain fields of the connection, its
//! edges, nodes and page info, is answered here instead: the page is read from the store and
//! written straight to JSON in the document's field order and with its aliases.
//!
//! It is a step of the request [`super::pipeline`], not a second executor beside it:
//! - the request is prepared, parsed, validated and limited exactly as every other request (the
//!   persisted query and allow-list, size, fields, aliases, depth, cost with the request's
//!   variables, variables that do not coerce); a document is planned when its text is first
//!   checked ([`super::documents`]), the plan is given the request's variables once the
//!   document is parsed, and only the execution of a planned document is done here, after the
//!   root field's access check, under the same deadline, with the outcome recorded in the
//!   access log by the same step;
//! - every plain field is written through the table of field meanings its type keeps beside its
//!   resolvers ([`super::types::leaf`]), and arguments are coerced by the same `InputType` code
//!   the engine uses;
//! - any doubt (an argument that does not coerce, a store error) sends the request on to the
//!   engine, which answers it, errors included, exactly as it always would;
//! - anything beyond the plain shape (fragments, directives, repeated response keys, `details`,
//!   `user`) is never planned.
//!
//! The answer leaves the pipeline in a [`DirectAnswer`] slot the edge put in the request's data;
//! only the edge's single requests carry one, for a principal who may read every event (this
//! path reads without scope). `tests/api/direct.rs` generates documents of the planned shapes
//! (fields, their order, aliases, filters, orders, page sizes, cursors) and holds both paths to
//! the same bytes on both backends.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::auth::Principal;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{InputType, Name, OutputType, Positioned, Request, Response, Value, Variables};
use serde::Serialize;

use super::AppSchema;
use super::query::page_request;
use super::types::leaf::{PlainFields, WriteField};
use super::types::{
    Event, EventConnection, EventEdge, EventFilterInput, PageInfo, SharingChange,
    SharingChangeConnection, SharingChangeEdge, SortOrderInput, event_cursor,
};
use crate::store::{EventRow, Page, SharedResource, Store};

/// The answer to one request: JSON written directly, or the engine's response.
pub enum Answer {
    /// A complete `{"data": ...}` body.
    Json(Vec<u8>),
    /// The engine's response.
    Engine(Response),
}

/// Where the pipeline leaves a direct answer for the edge that asked for one.
#[derive(Default)]
pub struct DirectAnswer(Mutex<Option<Vec<u8>>>);

impl DirectAnswer {
    fn put(&self, body: Vec<u8>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(body);
        }
    }

    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Runs single requests through the schema, taking a direct answer where the pipeline gave one.
pub struct Executor {
    schema: AppSchema,
    direct: AtomicU64,
}

impl Executor {
    /// An executor over a schema.
    pub fn new(schema: AppSchema) -> Executor {
        Executor {
            schema,
            direct: AtomicU64::new(0),
        }
    }

    /// The schema, for requests that always take the engine's path (batches, streams).
    pub fn schema(&self) -> &AppSchema {
        &self.schema
    }

    /// How many requests were answered directly so far.
    pub fn direct_answers(&self) -> u64 {
        self.direct.load(Ordering::Relaxed)
    }

    /// Answers one request for `principal`. The direct path reads without scope, so only the
    /// requests of those who may read every event carry a slot for its answer.
    pub async fn execute(&self, request: Request, principal: Principal) -> Answer {
        let direct = principal.reads_everything();
        let request = request.data(principal);
        if !direct {
            return Answer::Engine(self.schema.execute(request).await);
        }
        let slot = Arc::new(DirectAnswer::default());
        let response = self.schema.execute(request.data(slot.clone())).await;
        match slot.take() {
            Some(body) => {
                self.direct.fetch_add(1, Ordering::Relaxed);
                Answer::Json(body)
            }
            None => Answer::Engine(response),
        }
    }
}

/// A parsed document of a planned shape with the request's arguments, ready to be answered
/// directly (made by the pipeline when it parses the document).
pub struct Ready {
    plan: Arc<Plan>,
    arguments: EventsArguments,
}

impl Ready {
    /// Readies a document's plan with the request's variables, for a request whose data holds
    /// a slot for a direct answer; `None` leaves it to the engine.
    pub fn prepare(
        data: &async_graphql::extensions::ExtensionContext<'_>,
        plan: &Arc<Plan>,
        variables: &Variables,
    ) -> Option<Ready> {
        data.data_opt::<Arc<DirectAnswer>>()?;
        let arguments = plan.arguments(variables)?;
        Some(Ready {
            plan: plan.clone(),
            arguments,
        })
    }

    /// The name of the root field it answers.
    pub fn root(&self) -> &str {
        self.plan.root().map_or("", |root| root.name.node.as_str())
    }

    /// Answers the request into its slot (a validated request of the document's one
    /// operation); `false` sends it on to the engine.
    pub async fn answer(self, data: &async_graphql::extensions::ExtensionContext<'_>) -> bool {
        let (Some(slot), Some(store)) = (
            data.data_opt::<Arc<DirectAnswer>>(),
            data.data_opt::<Store>(),
        ) else {
            return false;
        };
        let max_page = data
            .data_opt::<super::query::PageLimit>()
            .map_or(super::query::MAX_PAGE_SIZE, |limit| limit.0);
        match self.plan.run(store, self.arguments, max_page).await {
            Some(body) => {
                slot.put(body);
                true
            }
            None => false,
        }
    }
}

/// A planned document: one connection field and what to write of it.
#[derive(Debug)]
pub struct Plan {
    kind: RootKind,
    variables: Vec<VariableSpec>,
    /// The document, for the root field's arguments as written (variables not yet
    /// substituted).
    document: Arc<ExecutableDocument>,
    response_key: String,
    selection: Vec<(String, ConnectionItem)>,
    needs_count: bool,
}

#[derive(Debug)]
struct VariableSpec {
    name: Name,
    nullable: bool,
    /// The declared default, or null for a nullable variable without one.
    default: Option<Value>,
}

/// The connection a plan answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootKind {
    /// `events`.
    Events,
    /// `sessionSharingChanges` or `jobSharingChanges`.
    Sharing(SharedResource),
}

impl RootKind {
    fn of(field: &str) -> Option<RootKind> {
        match field {
            "events" => Some(RootKind::Events),
            "sessionSharingChanges" => Some(RootKind::Sharing(SharedResource::Session)),
            "jobSharingChanges" => Some(RootKind::Sharing(SharedResource::Job)),
            _ => None,
        }
    }

    /// The GraphQL names of the connection and its edge.
    fn type_names(self) -> [Cow<'static, str>; 2] {
        match self {
            RootKind::Events => [EventConnection::type_name(), EventEdge::type_name()],
            RootKind::Sharing(_) => [
                SharingChangeConnection::type_name(),
                SharingChangeEdge::type_name(),
            ],
        }
    }
}

#[derive(Debug)]
enum ConnectionItem {
    Typename,
    TotalCount,
    Edges(Vec<(String, EdgeItem)>),
    Nodes(NodeShape),
    PageInfo(Fields<PageInfo>),
}

#[derive(Debug)]
enum EdgeItem {
    Typename,
    Cursor,
    Node(NodeShape),
}

/// Plain fields to write, each under its response key.
type Fields<T> = Vec<(String, WriteField<T>)>;

/// What to write of each node.
#[derive(Debug)]
enum NodeShape {
    Event(Fields<Event>),
    Change(Vec<(String, ChangeField)>),
}

#[derive(Debug)]
enum ChangeField {
    Plain(WriteField<SharingChange>),
    Event(Fields<Event>),
}

/// The plain fields of a selection, by the type's own table; `None` if any is not plain.
fn plain<T: PlainFields>(set: &SelectionSet) -> Option<Fields<T>> {
    keyed(set)?
        .into_iter()
        .map(|(key, field)| {
            if !field.selection_set.node.items.is_empty() {
                return None;
            }
            Some((key, T::field(field.name.node.as_str())?))
        })
        .collect()
}

/// The one operation of a document, when it has one.
fn only_operation(document: &ExecutableDocument) -> Option<&OperationDefinition> {
    match &document.operations {
        DocumentOperations::Single(op) => Some(&op.node),
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        DocumentOperations::Multiple(_) => None,
    }
}

impl Plan {
    /// Plans a document; `None` when it is not one of the plain shapes.
    pub fn of(document: &Arc<ExecutableDocument>) -> Option<Plan> {
        if !document.fragments.is_empty() {
            return None;
        }
        let operation = only_operation(document)?;
        if operation.ty != OperationType::Query || !operation.directives.is_empty() {
            return None;
        }
        let [root] = fields(&operation.selection_set.node)?[..] else {
            return None;
        };
        let kind = RootKind::of(root.name.node.as_str())?;
        if !root.directives.is_empty() {
            return None;
        }
        let node = |set: &SelectionSet| -> Option<NodeShape> {
            match kind {
                RootKind::Events => plain(set).map(NodeShape::Event),
                RootKind::Sharing(_) => change_fields(set).map(NodeShape::Change),
            }
        };
        let mut variables = Vec::new();
        for definition in &operation.variable_definitions {
            let definition = &definition.node;
            if !definition.directives.is_empty() {
                return None;
            }
            variables.push(VariableSpec {
                name: definition.name.node.clone(),
                nullable: definition.var_type.node.nullable,
                default: definition.default_value().cloned(),
            });
        }
        let mut selection = Vec::new();
        let mut needs_count = false;
        for (key, field) in keyed(&root.selection_set.node)? {
            let item = match field.name.node.as_str() {
                "__typename" => ConnectionItem::Typename,
                "totalCount" => {
                    needs_count = true;
                    ConnectionItem::TotalCount
                }
                "edges" => {
                    let mut items = Vec::new();
                    for (key, field) in keyed(&field.selection_set.node)? {
                        items.push((
                            key,
                            match field.name.node.as_str() {
                                "__typename" => EdgeItem::Typename,
                                "cursor" => EdgeItem::Cursor,
                                "node" => EdgeItem::Node(node(&field.selection_set.node)?),
                                _ => return None,
                            },
                        ));
                    }
                    ConnectionItem::Edges(items)
                }
                "nodes" => ConnectionItem::Nodes(node(&field.selection_set.node)?),
                "pageInfo" => ConnectionItem::PageInfo(plain(&field.selection_set.node)?),
                _ => return None,
            };
            selection.push((key, item));
        }
        Some(Plan {
            kind,
            variables,
            document: document.clone(),
            response_key: root.response_key().node.to_string(),
            selection,
            needs_count,
        })
    }

    /// Reads the page and writes the answer; `None` sends the request to the engine.
    async fn run(
        &self,
        store: &Store,
        arguments: EventsArguments,
        max_page: i32,
    ) -> Option<Vec<u8>> {
        let filter = EventFilterInput::unscoped(arguments.filter, "filter").ok()?;
        let page = page_request(
            max_page,
            arguments.first,
            arguments.after,
            arguments.last,
            arguments.before,
            arguments.order.into(),
        )
        .ok()?;
        let rows = async {
            match self.kind {
                RootKind::Events => store.events_page(&filter, &page).await,
                RootKind::Sharing(r) => store.sharing_changes_page(r, &filter, &page).await,
            }
        };
        let count = async {
            if !self.needs_count {
                return Ok(None);
            }
            match self.kind {
                RootKind::Events => store.count_events(&filter).await.map(Some),
                RootKind::Sharing(r) => store.count_sharing_changes(r, &filter).await.map(Some),
            }
        };
        let (rows, total) = tokio::join!(rows, count);
        self.write(rows.ok()?, total.ok()?)
    }

    /// The root field of the planned document.
    fn root(&self) -> Option<&Field> {
        let operation = only_operation(&self.document)?;
        fields(&operation.selection_set.node)?.first().copied()
    }

    /// The root field's arguments with the request's variables substituted, coerced as the
    /// engine coerces them.
    fn arguments(&self, variables: &Variables) -> Option<EventsArguments> {
        let root = self.root()?;
        let mut values: HashMap<&Name, Value> = HashMap::with_capacity(self.variables.len());
        for spec in &self.variables {
            // As the engine does: a given value (even null) wins over the default; a null for a
            // non-null variable is the engine's error to report.
            let value = match variables.get(&spec.name) {
                Some(Value::Null) if !spec.nullable => return None,
                Some(value) => value.clone(),
                None => spec.default.clone()?,
            };
            values.insert(&spec.name, value);
        }
        let argument = |name: &str| -> Option<Option<Value>> {
            match root.get_argument(name) {
                None => Some(None),
                Some(value) => value
                    .node
                    .clone()
                    .into_const_with(|var| values.get(&var).cloned().ok_or(()))
                    .ok()
                    .map(Some),
            }
        };
        Some(EventsArguments {
            filter: InputType::parse(argument("filter")?).ok()?,
            first: InputType::parse(argument("first")?).ok()?,
            after: InputType::parse(argument("after")?).ok()?,
            last: InputType::parse(argument("last")?).ok()?,
            before: InputType::parse(argument("before")?).ok()?,
            order: match argument("order")? {
                None => SortOrderInput::default(),
                Some(value) => InputType::parse(Some(value)).ok()?,
            },
        })
    }

    fn write(&self, page: Page, total: Option<i64>) -> Option<Vec<u8>> {
        let rows: Vec<Arc<EventRow>> = page.rows.into_iter().map(Arc::new).collect();
        let mut out = Vec::with_capacity(256 + rows.len() * 512);
        let w = &mut out;
        raw(w, b"{\"data\":{");
        key(w, &self.response_key)?;
        raw(w, b"{");
        for (i, (name, item)) in self.selection.iter().enumerate() {
            comma(w, i);
            key(w, name)?;
            match item {
                ConnectionItem::Typename => json(w, &self.kind.type_names()[0])?,
                ConnectionItem::TotalCount => json(w, total.unwrap_or_default())?,
                ConnectionItem::Edges(items) => {
                    raw(w, b"[");
                    for (r, row) in rows.iter().enumerate() {
                        comma(w, r);
                        raw(w, b"{");
                        for (j, (name, item)) in items.iter().enumerate() {
                            comma(w, j);
                            key(w, name)?;
                            match item {
                                EdgeItem::Typename => json(w, &self.kind.type_names()[1])?,
                                EdgeItem::Cursor => json(w, event_cursor(row))?,
                                EdgeItem::Node(shape) => self.write_node(w, row, shape)?,
                            }
                        }
                        raw(w, b"}");
                    }
                    raw(w, b"]");
                }
                ConnectionItem::Nodes(shape) => {
                    raw(w, b"[");
                    for (r, row) in rows.iter().enumerate() {
                        comma(w, r);
                        self.write_node(w, row, shape)?;
                    }
                    raw(w, b"]");
                }
                ConnectionItem::PageInfo(fields) => {
                    let info = PageInfo::of_rows(&rows, page.has_next, page.has_previous);
                    object(w, &info, fields)?;
                }
            }
        }
        raw(w, b"}}}");
        Some(out)
    }

    fn write_node(&self, w: &mut Vec<u8>, row: &Arc<EventRow>, shape: &NodeShape) -> Option<()> {
        match (shape, self.kind) {
            (NodeShape::Event(fields), _) => object(w, &Event::new(row.clone()), fields),
            (NodeShape::Change(fields), RootKind::Sharing(resource)) => {
                let change = SharingChange::new(row.clone(), resource);
                raw(w, b"{");
                for (i, (name, field)) in fields.iter().enumerate() {
                    comma(w, i);
                    key(w, name)?;
                    match field {
                        ChangeField::Plain(write) => write(&change, w)?,
                        ChangeField::Event(fields) => object(w, &change.event, fields)?,
                    }
                }
                raw(w, b"}");
                Some(())
            }
            (NodeShape::Change(_), RootKind::Events) => None,
        }
    }
}

/// An object of plain fields.
fn object<T>(w: &mut Vec<u8>, value: &T, fields: &Fields<T>) -> Option<()> {
    raw(w, b"{");
    for (i, (name, write)) in fields.iter().enumerate() {
        comma(w, i);
        key(w, name)?;
        write(value, w)?;
    }
    raw(w, b"}");
    Some(())
}

fn change_fields(set: &SelectionSet) -> Option<Vec<(String, ChangeField)>> {
    keyed(set)?
        .into_iter()
        .map(|(key, field)| {
            let set = &field.selection_set.node;
            let f = match field.name.node.as_str() {
                "event" => ChangeField::Event(plain(set)?),
                _ if !set.items.is_empty() => return None,
                name => ChangeField::Plain(SharingChange::field(name)?),
            };
            Some((key, f))
        })
        .collect()
}

struct EventsArguments {
    filter: Option<EventFilterInput>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    order: SortOrderInput,
}

/// The fields of a selection set, or `None` when it holds fragments or directives.
fn fields(set: &SelectionSet) -> Option<Vec<&Field>> {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(Positioned { node, .. }) if node.directives.is_empty() => Some(node),
            _ => None,
        })
        .collect()
}

/// Fields with their response keys; `None` when a key repeats (the engine merges those) or a
/// field takes arguments (none below `events` does).
fn keyed(set: &SelectionSet) -> Option<Vec<(String, &Field)>> {
    let mut out: Vec<(String, &Field)> = Vec::new();
    for field in fields(set)? {
        let key = field.response_key().node.to_string();
        if !field.arguments.is_empty() || out.iter().any(|(k, _)| *k == key) {
            return None;
        }
        out.push((key, field));
    }
    Some(out)
}

fn raw(w: &mut Vec<u8>, bytes: &[u8]) {
    w.extend_from_slice(bytes);
}

fn comma(w: &mut Vec<u8>, index: usize) {
    if index > 0 {
        w.push(b',');
    }
}

fn key(w: &mut Vec<u8>, name: &str) -> Option<()> {
    json(w, name)?;
    w.push(b':');
    Some(())
}

fn json<T: Serialize>(w: &mut Vec<u8>, value: T) -> Option<()> {
    serde_json::to_writer(w, &value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(query: &str) -> Option<Plan> {
        let document = async_graphql::parser::parse_query(query).ok()?;
        Plan::of(&Arc::new(document))
    }

    #[test]
    fn plans_only_the_plain_events_shape() {
        for planned in [
            "{ events { edges { node { id } } } }",
            "query Q($u: UUID!) { e: events(filter: {userIds: [$u]}, first: 50) { totalCount edges { cursor node { id kind category createdAt } } pageInfo { hasNextPage endCursor } nodes { __typename userId } } }",
            "{ sessionSharingChanges(first: 50) { edges { node { at userId resourceId from to event { id userAgent ipAddress description } } } } }",
        ] {
            assert!(compile(planned).is_some(), "{planned}");
        }
        for engine in [
            "{ events { edges { node { id details { username } } } } }",
            "{ events { edges { node { id user { id } } } } }",
            "{ sessionSharingChanges { edges { node { event { details { username } } } } } }",
            "{ sessionSharingChanges { edges { node { id } } } }",
            "{ events { edges { node { ...F } } } } fragment F on Event { id }",
            "{ events { edges { node { id @include(if: true) } } } }",
            "{ events { edges { node { id id } } } }",
            "{ events { totalCount } categoryCounts { count } }",
            "mutation { events { totalCount } }",
            "{ event(id: 1) { id } }",
            "not graphql",
        ] {
            assert!(compile(engine).is_none(), "{engine}");
        }
    }

    #[test]
    fn arguments_are_coerced_like_the_engine_and_doubt_goes_to_it() {
        let plan = compile(
            "query($u: [UUID!], $n: Int = 7) { events(filter: {userIds: $u}, first: $n) { totalCount } }",
        )
        .expect("planned");
        let arguments = |v: serde_json::Value| plan.arguments(&Variables::from_json(v));
        let args = arguments(serde_json::json!({})).expect("defaults apply");
        assert_eq!(args.first, Some(7));
        assert!(args.filter.as_ref().is_some_and(|f| f.user_ids.is_none()));
        let args = arguments(serde_json::json!({"u": "0a0a0a0a-0000-4000-8000-000000000001"}))
            .expect("a single value coerces to a list");
        assert_eq!(
            args.filter.and_then(|f| f.user_ids).map(|v| v.len()),
            Some(1)
        );
        assert!(arguments(serde_json::json!({"u": ["nope"]})).is_none());
        assert!(arguments(serde_json::json!({"n": "seven"})).is_none());
    }
}
