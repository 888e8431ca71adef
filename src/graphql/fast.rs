//! The direct path for the hottest request shapes: a page of `events` with scalar fields, and a
//! page of sharing changes with their events' scalar fields.
//!
//! The engine resolves every field of every row as its own future and builds a value tree before
//! serializing it; for a 50-row page that costs more CPU than the SQL. A query document whose
//! only root field is `events`, selecting plain fields of the connection, its edges, nodes and
//! page info, is answered here instead: the page is read from the store and written straight to
//! JSON in the document's field order and with its aliases.
//!
//! GraphQL semantics are kept by construction:
//! - a document is planned only after the engine has executed it once without error, so it is
//!   known to parse and validate, and to pass the limits that depend on its text alone (size,
//!   fields, aliases, depth); what depends on each request's variables (their coercion, the
//!   page size and with it the cost against `--max-complexity`) is checked again on every
//!   request, and over a limit the request goes to the engine, which refuses it;
//! - arguments are coerced by the same `InputType` code the engine uses, and any doubt (a
//!   variable that does not coerce, an unknown operation name, a store error) sends the request
//!   to the engine, which answers it, errors included, exactly as it always would;
//! - anything beyond the plain shape (fragments, directives, repeated response keys, `details`,
//!   `user`) is never planned.
//!
//! `tests/api/direct.rs` generates documents of the planned shapes (fields, their order,
//! aliases, filters, orders, page sizes, cursors) and holds both paths to the same bytes on both
//! backends.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::auth::Principal;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{InputType, Name, Positioned, Request, Response, Value, Variables};
use serde::Serialize;

use super::AppSchema;
use super::query::page_request;
use super::scalars::DateTime;
use super::types::{EventFilterInput, SortOrderInput};
use crate::catalog::EventKind;
use crate::details::Details;
use crate::store::{EventRow, Page, SharedResource, Store};

/// Documents remembered at most; beyond this, one is let go for each new one.
const MAX_PLANS: usize = 1024;
/// Longer documents are never planned (the cache keys on the whole text).
const MAX_DOCUMENT_LENGTH: usize = 16 * 1024;

/// The answer to one request: JSON written directly, or the engine's response.
pub enum Answer {
    /// A complete `{"data": ...}` body.
    Json(Vec<u8>),
    /// The engine's response.
    Engine(Response),
}

/// Executes single requests, answering planned documents directly.
pub struct Executor {
    schema: AppSchema,
    store: Store,
    /// The largest page allowed, as the schema's resolvers allow it.
    max_page: i32,
    /// `--max-complexity`, checked on this path as the engine checks it.
    max_complexity: usize,
    plans: Mutex<HashMap<Arc<str>, Option<Arc<Plan>>>>,
    direct: AtomicU64,
}

impl Executor {
    /// An executor over a schema and the store it reads, with the schema's page limit.
    pub fn new(schema: AppSchema, store: Store, max_page: i32, max_complexity: usize) -> Executor {
        Executor {
            schema,
            store,
            max_page,
            max_complexity,
            plans: Mutex::new(HashMap::new()),
            direct: AtomicU64::new(0),
        }
    }

    /// The schema, for requests that always take the engine's path (batches).
    pub fn schema(&self) -> &AppSchema {
        &self.schema
    }

    /// How many requests were answered directly so far.
    pub fn direct_answers(&self) -> u64 {
        self.direct.load(Ordering::Relaxed)
    }

    /// Answers one request for `principal`. The direct path reads without scope, so it
    /// answers only those who may read every event.
    pub async fn execute(&self, request: Request, principal: Principal) -> Answer {
        let direct = principal.reads_everything();
        let request = request.data(principal);
        if !direct {
            return Answer::Engine(self.schema.execute(request).await);
        }
        let known = self.lookup(&request.query);
        match known {
            Some(Some(plan)) => {
                if let Some(body) = plan
                    .run(&self.store, &request, self.max_page, self.max_complexity)
                    .await
                {
                    self.direct.fetch_add(1, Ordering::Relaxed);
                    return Answer::Json(body);
                }
                Answer::Engine(self.schema.execute(request).await)
            }
            Some(None) => Answer::Engine(self.schema.execute(request).await),
            None => {
                let query = request.query.clone();
                let plan = Plan::compile(&query).map(Arc::new);
                let response = self.schema.execute(request).await;
                // Only a document the engine accepted may be answered directly.
                if plan.is_none() || response.errors.is_empty() {
                    self.remember(query, plan);
                }
                Answer::Engine(response)
            }
        }
    }

    fn lookup(&self, query: &str) -> Option<Option<Arc<Plan>>> {
        if query.len() > MAX_DOCUMENT_LENGTH {
            return Some(None);
        }
        let plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        plans.get(query).cloned()
    }

    fn remember(&self, query: String, plan: Option<Arc<Plan>>) {
        if query.len() > MAX_DOCUMENT_LENGTH {
            return;
        }
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        // Full: one planned document makes room, so that the cache keeps learning new ones
        // (a document let go is planned again the next time it comes).
        if plans.len() >= MAX_PLANS
            && let Some(out) = plans.keys().next().cloned()
        {
            plans.remove(&out);
        }
        plans.insert(query.into(), plan);
    }
}

/// A planned document: one `events` field and what to write of each row.
#[derive(Debug)]
pub struct Plan {
    kind: RootKind,
    operation_name: Option<String>,
    variables: Vec<VariableSpec>,
    response_key: String,
    root: Field,
    selection: Vec<(String, ConnectionItem)>,
    needs_count: bool,
    /// The cost of one row's fields: every field below the root counts 1.
    child_cost: usize,
}

/// Fields in a selection, nested ones included (the cost of a selection without pages).
fn field_count(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => 1 + field_count(&field.node.selection_set.node),
            _ => 0,
        })
        .sum()
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

    /// The GraphQL names of the connection, its edge and its node.
    fn type_names(self) -> [&'static str; 3] {
        match self {
            RootKind::Events => ["EventConnection", "EventEdge", "Event"],
            RootKind::Sharing(_) => [
                "SharingChangeConnection",
                "SharingChangeEdge",
                "SharingChange",
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
    PageInfo(Vec<(String, PageInfoField)>),
}

#[derive(Debug)]
enum EdgeItem {
    Typename,
    Cursor,
    Node(NodeShape),
}

/// What to write of each node.
#[derive(Debug)]
enum NodeShape {
    Event(Vec<(String, NodeField)>),
    Change(Vec<(String, ChangeField)>),
}

#[derive(Debug)]
enum ChangeField {
    Typename,
    At,
    UserId,
    ResourceId,
    From,
    To,
    Event(Vec<(String, NodeField)>),
}

#[derive(Debug, Clone, Copy)]
enum PageInfoField {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

#[derive(Debug, Clone, Copy)]
enum NodeField {
    Typename,
    Id,
    UserId,
    IpAddress,
    Internal,
    UserAgent,
    EventName,
    Kind,
    Category,
    Description,
    CreatedAt,
}

impl Plan {
    /// Plans a document, or `None` when it is not one of the plain shapes.
    pub fn compile(query: &str) -> Option<Plan> {
        let document = async_graphql::parser::parse_query(query).ok()?;
        Self::from_document(&document)
    }

    fn from_document(document: &ExecutableDocument) -> Option<Plan> {
        if !document.fragments.is_empty() {
            return None;
        }
        let (operation_name, operation) = match &document.operations {
            DocumentOperations::Single(op) => (None, &op.node),
            DocumentOperations::Multiple(ops) if ops.len() == 1 => {
                let (name, op) = ops.iter().next()?;
                (Some(name.to_string()), &op.node)
            }
            DocumentOperations::Multiple(_) => return None,
        };
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
                RootKind::Events => node_fields(set).map(NodeShape::Event),
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
        // A declared variable that no argument uses is still coerced by the engine; leave
        // such documents to it so that a bad value is reported the same way.
        let mut used: Vec<Name> = Vec::new();
        for (_, value) in &root.arguments {
            let _ = value.node.clone().into_const_with(|name| {
                used.push(name);
                Ok::<_, ()>(Value::Null)
            });
        }
        if variables.iter().any(|v| !used.contains(&v.name)) {
            return None;
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
                "pageInfo" => {
                    let mut items = Vec::new();
                    for (key, field) in keyed(&field.selection_set.node)? {
                        items.push((
                            key,
                            match field.name.node.as_str() {
                                "__typename" => PageInfoField::Typename,
                                "hasNextPage" => PageInfoField::HasNextPage,
                                "hasPreviousPage" => PageInfoField::HasPreviousPage,
                                "startCursor" => PageInfoField::StartCursor,
                                "endCursor" => PageInfoField::EndCursor,
                                _ => return None,
                            },
                        ));
                    }
                    ConnectionItem::PageInfo(items)
                }
                _ => return None,
            };
            selection.push((key, item));
        }
        Some(Plan {
            kind,
            operation_name,
            variables,
            response_key: root.response_key().node.to_string(),
            root: root.clone(),
            selection,
            needs_count,
            child_cost: field_count(&root.selection_set.node),
        })
    }

    /// Runs the plan; `None` sends the request to the engine.
    async fn run(
        &self,
        store: &Store,
        request: &Request,
        max_page: i32,
        max_complexity: usize,
    ) -> Option<Vec<u8>> {
        if let Some(name) = &request.operation_name
            && self.operation_name.as_deref() != Some(name.as_str())
        {
            return None;
        }
        let arguments = self.arguments(&request.variables)?;
        // The cost of the request as sent, by the rule the engine's validation applies: over
        // the limit, the engine answers (and refuses it).
        let cost = super::query::page_cost(arguments.first, arguments.last, self.child_cost);
        if cost > max_complexity {
            return None;
        }
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
        self.write(&rows.ok()?, total.ok()?).ok()
    }

    /// The `events` arguments with variables substituted, coerced as the engine coerces them.
    fn arguments(&self, variables: &Variables) -> Option<EventsArguments> {
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
        let field = &self.root;
        let argument = |name: &str| -> Option<Option<Value>> {
            match field.get_argument(name) {
                None => Some(None),
                Some(value) => value
                    .node
                    .clone()
                    .into_const_with(|var| values.get(&var).cloned().ok_or(()))
                    .ok()
                    .map(Some),
            }
        };
        let filter = argument("filter")?;
        // An input object with a key it does not have is the engine's error to report (the
        // parsing below would pass over the key).
        if let Some(value) = &filter
            && !super::variables::fits(filter_types(), "EventFilter", value)
        {
            return None;
        }
        Some(EventsArguments {
            filter: InputType::parse(filter).ok()?,
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

    fn write(&self, page: &Page, total: Option<i64>) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(256 + page.rows.len() * 512);
        let w = &mut out;
        raw(w, b"{\"data\":{");
        key(w, &self.response_key)?;
        raw(w, b"{");
        for (i, (name, item)) in self.selection.iter().enumerate() {
            comma(w, i);
            key(w, name)?;
            match item {
                ConnectionItem::Typename => json(w, self.kind.type_names()[0])?,
                ConnectionItem::TotalCount => json(w, total.unwrap_or_default())?,
                ConnectionItem::Edges(items) => {
                    raw(w, b"[");
                    for (r, row) in page.rows.iter().enumerate() {
                        comma(w, r);
                        raw(w, b"{");
                        for (j, (name, item)) in items.iter().enumerate() {
                            comma(w, j);
                            key(w, name)?;
                            match item {
                                EdgeItem::Typename => json(w, self.kind.type_names()[1])?,
                                EdgeItem::Cursor => json(w, row.cursor().encode())?,
                                EdgeItem::Node(shape) => self.write_shape(w, row, shape)?,
                            }
                        }
                        raw(w, b"}");
                    }
                    raw(w, b"]");
                }
                ConnectionItem::Nodes(shape) => {
                    raw(w, b"[");
                    for (r, row) in page.rows.iter().enumerate() {
                        comma(w, r);
                        self.write_shape(w, row, shape)?;
                    }
                    raw(w, b"]");
                }
                ConnectionItem::PageInfo(items) => {
                    raw(w, b"{");
                    for (j, (name, field)) in items.iter().enumerate() {
                        comma(w, j);
                        key(w, name)?;
                        match field {
                            PageInfoField::Typename => json(w, "PageInfo")?,
                            PageInfoField::HasNextPage => json(w, page.has_next)?,
                            PageInfoField::HasPreviousPage => json(w, page.has_previous)?,
                            PageInfoField::StartCursor => {
                                json(w, page.rows.first().map(|r| r.cursor().encode()))?;
                            }
                            PageInfoField::EndCursor => {
                                json(w, page.rows.last().map(|r| r.cursor().encode()))?;
                            }
                        }
                    }
                    raw(w, b"}");
                }
            }
        }
        raw(w, b"}}}");
        Ok(out)
    }
}

impl Plan {
    fn write_shape(
        &self,
        w: &mut Vec<u8>,
        row: &EventRow,
        shape: &NodeShape,
    ) -> Result<(), serde_json::Error> {
        match (shape, self.kind) {
            (NodeShape::Event(fields), _) => write_node(w, row, fields),
            (NodeShape::Change(fields), RootKind::Sharing(resource)) => {
                write_change(w, row, fields, resource)
            }
            (NodeShape::Change(_), RootKind::Events) => {
                Err(serde::ser::Error::custom("a change under events"))
            }
        }
    }
}

/// A sharing change, read from its description exactly as `SharingChange` reads it.
fn write_change(
    w: &mut Vec<u8>,
    row: &EventRow,
    fields: &[(String, ChangeField)],
    resource: SharedResource,
) -> Result<(), serde_json::Error> {
    let details = Details::parse(&row.description);
    let sharing = details.sharing.clone().unwrap_or_default();
    raw(w, b"{");
    for (i, (name, field)) in fields.iter().enumerate() {
        comma(w, i);
        key(w, name)?;
        match field {
            ChangeField::Typename => json(w, "SharingChange")?,
            ChangeField::At => time(w, row.created_at),
            ChangeField::UserId => json(w, row.user_id.map(|u| u.hyphenated().to_string()))?,
            ChangeField::ResourceId => json(
                w,
                match resource {
                    SharedResource::Session => &details.session_id,
                    SharedResource::Job => &details.job_id,
                },
            )?,
            ChangeField::From => json(w, sharing.from.map(enum_name))?,
            ChangeField::To => json(w, sharing.to.map(enum_name))?,
            ChangeField::Event(fields) => write_node(w, row, fields)?,
        }
    }
    raw(w, b"}");
    Ok(())
}

fn change_fields(set: &SelectionSet) -> Option<Vec<(String, ChangeField)>> {
    keyed(set)?
        .into_iter()
        .map(|(key, field)| {
            let f = match field.name.node.as_str() {
                "event" => ChangeField::Event(node_fields(&field.selection_set.node)?),
                other => {
                    if !field.selection_set.node.items.is_empty() {
                        return None;
                    }
                    match other {
                        "__typename" => ChangeField::Typename,
                        "at" => ChangeField::At,
                        "userId" => ChangeField::UserId,
                        "resourceId" => ChangeField::ResourceId,
                        "from" => ChangeField::From,
                        "to" => ChangeField::To,
                        _ => return None,
                    }
                }
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

fn node_fields(set: &SelectionSet) -> Option<Vec<(String, NodeField)>> {
    keyed(set)?
        .into_iter()
        .map(|(key, field)| {
            if !field.selection_set.node.items.is_empty() {
                return None;
            }
            let f = match field.name.node.as_str() {
                "__typename" => NodeField::Typename,
                "id" => NodeField::Id,
                "userId" => NodeField::UserId,
                "ipAddress" => NodeField::IpAddress,
                "internal" => NodeField::Internal,
                "userAgent" => NodeField::UserAgent,
                "eventName" => NodeField::EventName,
                "kind" => NodeField::Kind,
                "category" => NodeField::Category,
                "description" => NodeField::Description,
                "createdAt" => NodeField::CreatedAt,
                _ => return None,
            };
            Some((key, f))
        })
        .collect()
}

fn write_node(
    w: &mut Vec<u8>,
    row: &EventRow,
    fields: &[(String, NodeField)],
) -> Result<(), serde_json::Error> {
    raw(w, b"{");
    for (i, (name, field)) in fields.iter().enumerate() {
        comma(w, i);
        key(w, name)?;
        match field {
            NodeField::Typename => json(w, "Event")?,
            NodeField::Id => {
                raw(w, b"\"");
                let _ = write!(w, "{}", row.id);
                raw(w, b"\"");
            }
            NodeField::UserId => json(w, row.user_id.map(|u| u.hyphenated().to_string()))?,
            NodeField::IpAddress => json(w, &row.ipaddr)?,
            NodeField::Internal => json(w, row.ipaddr == crate::store::INTERNAL_ADDRESS)?,
            NodeField::UserAgent => json(w, &row.user_agent)?,
            NodeField::EventName => json(w, &row.event_name)?,
            NodeField::Kind => json(w, enum_name(EventKind::from_name(&row.event_name)))?,
            NodeField::Category => json(
                w,
                enum_name(EventKind::from_name(&row.event_name).category()),
            )?,
            NodeField::Description => json(w, &row.description)?,
            NodeField::CreatedAt => time(w, row.created_at),
        }
    }
    raw(w, b"}");
    Ok(())
}

/// An enum value's GraphQL name, exactly as the engine writes it.
fn enum_name<T: InputType>(value: T) -> String {
    match value.to_value() {
        Value::Enum(name) => name.to_string(),
        other => other.to_string(),
    }
}

fn raw(w: &mut Vec<u8>, bytes: &[u8]) {
    w.extend_from_slice(bytes);
}

fn comma(w: &mut Vec<u8>, index: usize) {
    if index > 0 {
        w.push(b',');
    }
}

fn key(w: &mut Vec<u8>, name: &str) -> Result<(), serde_json::Error> {
    json(w, name)?;
    w.push(b':');
    Ok(())
}

fn json<T: Serialize>(w: &mut Vec<u8>, value: T) -> Result<(), serde_json::Error> {
    serde_json::to_writer(w, &value)
}

/// `EventFilter` and the types it holds, as the engine registers them.
fn filter_types() -> &'static async_graphql::registry::Registry {
    static TYPES: std::sync::OnceLock<async_graphql::registry::Registry> =
        std::sync::OnceLock::new();
    TYPES.get_or_init(|| {
        let mut registry = async_graphql::registry::Registry::default();
        <EventFilterInput as InputType>::create_type_info(&mut registry);
        registry
    })
}

/// A `DateTime` as a JSON string: its text needs no escaping.
fn time(w: &mut Vec<u8>, t: chrono::NaiveDateTime) {
    let mut text = String::with_capacity(29);
    text.push('"');
    DateTime(t).write_rfc3339(&mut text);
    text.push('"');
    w.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_only_the_plain_events_shape() {
        for planned in [
            "{ events { edges { node { id } } } }",
            "query Q($u: UUID!) { e: events(filter: {userIds: [$u]}, first: 50) { totalCount edges { cursor node { id kind category createdAt } } pageInfo { hasNextPage endCursor } nodes { __typename userId } } }",
            "{ sessionSharingChanges(first: 50) { edges { node { at userId resourceId from to event { id userAgent ipAddress description } } } } }",
        ] {
            assert!(Plan::compile(planned).is_some(), "{planned}");
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
            "query($unused: Int) { events { totalCount } }",
            "mutation { events { totalCount } }",
            "{ event(id: 1) { id } }",
            "not graphql",
        ] {
            assert!(Plan::compile(engine).is_none(), "{engine}");
        }
    }

    #[test]
    fn arguments_are_coerced_like_the_engine_and_doubt_goes_to_it() {
        let plan = Plan::compile(
            "query($u: [UUID!], $n: Int = 7) { events(filter: {userIds: $u}, first: $n) { totalCount } }",
        )
        .expect("planned");
        let vars = |v: serde_json::Value| Variables::from_json(v);
        let args = plan
            .arguments(&vars(serde_json::json!({})))
            .expect("defaults apply");
        assert_eq!(args.first, Some(7));
        assert!(args.filter.as_ref().is_some_and(|f| f.user_ids.is_none()));
        let args = plan
            .arguments(&vars(
                serde_json::json!({"u": "0a0a0a0a-0000-4000-8000-000000000001"}),
            ))
            .expect("a single value coerces to a list");
        assert_eq!(
            args.filter.and_then(|f| f.user_ids).map(|v| v.len()),
            Some(1)
        );
        assert!(
            plan.arguments(&vars(serde_json::json!({"u": ["nope"]})))
                .is_none()
        );
        assert!(
            plan.arguments(&vars(serde_json::json!({"n": "seven"})))
                .is_none()
        );
    }
}
