//! Records each GraphQL operation run by the engine in the access log (the edge records the
//! answers it gives directly): its kind, name, variables and outcome.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use crate::audit::{AccessLog, ClientAddress};
use crate::auth::Principal;

/// The extension's factory.
pub struct Audit;

impl ExtensionFactory for Audit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuditExtension::default())
    }
}

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

#[derive(Default)]
struct AuditExtension {
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

impl AuditExtension {
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
}

#[async_trait::async_trait]
impl Extension for AuditExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.operation_name = request.operation_name.clone();
            seen.variables = serde_json::to_value(&request.variables).unwrap_or_default();
            seen.principal = attached(&request, ctx);
            seen.log = attached(&request, ctx);
            seen.address = attached(&request, ctx);
        }
        // Refusals before parsing (persisted queries, the allow-list, the document limits).
        let prepared = next.run(ctx, request).await;
        if let Err(error) = &prepared {
            self.record(outcome(std::slice::from_ref(error)));
        }
        prepared
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await;
        if let (Ok(document), Ok(mut seen)) = (&document, self.seen.lock()) {
            seen.kind = kind_of(document, seen.operation_name.as_deref());
        }
        if let Err(error) = &document {
            self.record(outcome(std::slice::from_ref(error)));
        }
        document
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        // A subscription runs once per event it delivers; it was recorded when it began.
        let subscription = self.seen.lock().is_ok_and(|s| s.kind == "subscription");
        if !subscription {
            self.record(outcome(&response.errors));
        }
        response
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await;
        match &result {
            Err(errors) => self.record(outcome(errors)),
            Ok(_) => {
                let subscription = self.seen.lock().is_ok_and(|s| s.kind == "subscription");
                if subscription {
                    self.record("SUBSCRIBED".into());
                }
            }
        }
        result
    }
}
