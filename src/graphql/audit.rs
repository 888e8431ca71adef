//! Records each GraphQL operation in the access log: its kind, name, variables and outcome.

use std::sync::Mutex;

use async_graphql::extensions::ExtensionContext;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError};

use crate::audit::{AccessLog, ClientAddress};
use crate::auth::Principal;

#[derive(Default)]
struct Seen {
    operation_name: Option<String>,
    variables: serde_json::Value,
    kind: &'static str,
    /// Who asks, where the log is and the address: read when the request is prepared, from
    /// its own data or its connection's.
    principal: Option<Principal>,
    log: Option<AccessLog>,
    address: Option<ClientAddress>,
}

/// A value of the request's own data, or else of its connection's or the schema's.
fn attached<T: Clone + Send + Sync + 'static>(
    request: &Request,
    ctx: &ExtensionContext<'_>,
) -> Option<T> {
    request
        .data
        .get(&std::any::TypeId::of::<T>())
        .and_then(|value| value.downcast_ref::<T>())
        .cloned()
        .or_else(|| ctx.data_opt::<T>().cloned())
}

/// What the access log will say of one request, gathered as the request goes through the
/// engine's pipeline ([`super::pipeline`]).
#[derive(Default)]
pub struct Trail {
    seen: Mutex<Seen>,
}

/// The outcome of an answer: `OK`, or its distinct error codes joined by commas.
pub fn outcome(errors: &[ServerError]) -> String {
    let mut codes: Vec<String> = errors
        .iter()
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map_or_else(
                    || "ERROR".to_string(),
                    |c| c.to_string().trim_matches('"').to_string(),
                )
        })
        .collect();
    codes.sort();
    codes.dedup();
    if codes.is_empty() {
        "OK".into()
    } else {
        codes.join(",")
    }
}

/// The kind of the operation a document runs.
pub fn kind_of(document: &ExecutableDocument, operation_name: Option<&str>) -> &'static str {
    let ty = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) => ops.values().next().map(|op| op.node.ty),
    };
    match ty {
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        _ => "query",
    }
}

impl Trail {
    fn record(&self, outcome: String) {
        let Ok(seen) = self.seen.lock() else {
            return;
        };
        let (Some(log), Some(principal)) = (&seen.log, &seen.principal) else {
            return;
        };
        log.record(crate::audit::Request {
            principal: Some(principal),
            kind: if seen.kind.is_empty() {
                "query"
            } else {
                seen.kind
            },
            operation_name: seen.operation_name.as_deref(),
            variables: seen.variables.clone(),
            address: seen.address.as_ref(),
            outcome,
        });
    }

    /// Notes the request's operation name and variables, who asks, from where, and where the
    /// log is: from the request's own data, or else its connection's.
    pub fn begin(&self, ctx: &ExtensionContext<'_>, request: &Request) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.operation_name = request.operation_name.clone();
            seen.principal = attached(request, ctx);
            if seen.principal.as_ref().is_some_and(AccessLog::records) {
                seen.variables = serde_json::to_value(&request.variables).unwrap_or_default();
            }
            seen.log = attached(request, ctx);
            seen.address = attached(request, ctx);
        }
    }

    /// Records a refusal before the operation ran (preparing, parsing or validating it).
    pub fn refused(&self, errors: &[ServerError]) {
        self.record(outcome(errors));
    }

    /// Notes the kind of operation the parsed document runs.
    pub fn parsed(&self, document: &ExecutableDocument) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.kind = kind_of(document, seen.operation_name.as_deref());
        }
    }

    /// A subscription is recorded once, when it is validated and begins.
    pub fn validated(&self) {
        if self.subscription() {
            self.record("SUBSCRIBED".into());
        }
    }

    /// Records the outcome of a query or mutation. A subscription runs once per event it
    /// delivers; it was recorded when it began.
    pub fn executed(&self, response: &Response) {
        if !self.subscription() {
            self.record(outcome(&response.errors));
        }
    }

    fn subscription(&self) -> bool {
        self.seen.lock().is_ok_and(|s| s.kind == "subscription")
    }
}
