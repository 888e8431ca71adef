//! The one extension every request passes through, in this order:
//!
//! 1. **request**: a request id for its log lines and its errors;
//! 2. **prepare**: the access log notes who asks; a persisted query is filled in or the
//!    operation refused off the allow-list; the document's size and fields are checked before
//!    the engine parses it (once per text, see [`super::documents`]); the request gets its
//!    report-row budget;
//! 3. **parse**: aliases are counted; the document is kept to restore field order, and planned
//!    with the request's variables if it may be answered directly;
//! 4. **validate**: depth and cost (with the request's variables) are checked, then variables
//!    that do not coerce;
//! 5. **execute**: queries and mutations over a stream get a deadline; a document of a planned
//!    shape is answered directly ([`super::fast`]), any other by the engine; the answer gets the
//!    document's field order; the access log records the outcome;
//! 6. **resolve** (every field): root fields are checked against the principal's role (a
//!    planned document's root field is checked by the same rule before it is answered).
//!
//! Every refusal on the way is recorded in the access log and given a code. The steps live in
//! their own modules ([`super::audit`], [`super::persisted`], [`super::limits`],
//! [`super::order`], [`super::access`], [`super::error`]); this module only runs them. They are
//! one extension, not one each, because the engine wraps every resolved field in one boxed
//! hook per extension: eight extensions cost a quarter of a 90-day timeline's CPU.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextResolve, NextSubscribe, NextValidation, ResolveInfo,
};
use async_graphql::futures_util::StreamExt;
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};

use super::audit::Trail;
use super::documents::{Checked, Documents, Unkept};
use super::error::{label, new_request_id, stream_with_request_id, with_request_id};
use super::fast::Ready;
use super::limits::{self, Deadline, PendingVariableError, ReportRowBudget};
use super::order::KeptDocument;
use super::persisted::Persisted;

/// The server's limits and rules, as each request's pipeline applies them.
#[derive(Clone)]
pub struct Pipeline {
    /// The persisted queries and the allow-list.
    pub persisted: Arc<Persisted>,
    /// Size, fields, depth and cost of a document, and the documents already checked under
    /// these limits.
    pub documents: Arc<Documents>,
    /// `--max-aliases`.
    pub max_aliases: usize,
    /// `--max-report-rows`, for a request that comes without a budget.
    pub report_rows: ReportRowBudget,
    /// Whether `__schema` and `__type` are answered.
    pub introspection: bool,
    /// The time limit of requests over a stream.
    pub deadline: Deadline,
}

impl ExtensionFactory for Pipeline {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestPipeline {
            rules: self.clone(),
            trail: Trail::default(),
            kept: KeptDocument::default(),
            pending: PendingVariableError::default(),
            checked: Mutex::default(),
            unkept: Mutex::default(),
            direct: Mutex::default(),
        })
    }
}

/// One request's pass through the pipeline.
struct RequestPipeline {
    rules: Pipeline,
    trail: Trail,
    kept: KeptDocument,
    pending: PendingVariableError,
    /// The request's document, once checked.
    checked: Mutex<Option<Arc<Checked>>>,
    /// The document checked for this request, to keep once it validates.
    unkept: Mutex<Option<Unkept>>,
    /// The document planned for a direct answer, when it is of a planned shape.
    direct: Mutex<Option<Ready>>,
}

impl RequestPipeline {
    fn prepare(&self, ctx: &ExtensionContext<'_>, mut request: Request) -> ServerResult<Request> {
        self.rules
            .persisted
            .resolve(&mut request)
            .map_err(|e| e.into_server_error(async_graphql::Pos::default()))?;
        let (request, checked) =
            self.rules
                .documents
                .prepare(&ctx.schema_env.registry, request, &self.pending)?;
        if let Some((checked, unkept)) = checked {
            if let Ok(mut slot) = self.checked.lock() {
                *slot = Some(checked);
            }
            if let Ok(mut slot) = self.unkept.lock() {
                *slot = unkept;
            }
        }
        Ok(self.rules.report_rows.attach_unless_given(request))
    }
}

#[async_trait::async_trait]
impl Extension for RequestPipeline {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        // The request's error log lines carry its id; every error the client sees does too, so
        // that an `INTERNAL` error can be found in the log.
        let request_id = new_request_id();
        let mut response = with_request_id(&request_id, next.run(ctx)).await;
        label(&mut response, &request_id);
        response
    }

    /// Streams (WebSocket, SSE) get the same codes and field order on every event they carry.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let request_id = new_request_id();
        let order = self.kept.event_order();
        stream_with_request_id(&request_id, next.run(ctx, stream))
            .map(move |mut response| {
                order(&mut response);
                label(&mut response, &request_id);
                response
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.trail.begin(ctx, &request);
        let prepared = match self.prepare(ctx, request) {
            Ok(request) => next.run(ctx, request).await,
            Err(error) => Err(error),
        };
        if let Err(error) = &prepared {
            self.trail.refused(std::slice::from_ref(error));
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
        let parsed = next.run(ctx, query, variables).await.and_then(|document| {
            let checked = self.checked.lock().ok().and_then(|mut c| c.take());
            let shared = checked
                .as_ref()
                .map_or_else(|| Arc::new(document.clone()), |c| c.document.clone());
            self.kept.keep(&shared, variables);
            limits::check_aliases(&document, self.rules.max_aliases)?;
            if let Some(plan) = checked.as_ref().and_then(|c| c.plan.as_ref())
                && let Ok(mut direct) = self.direct.lock()
            {
                *direct = Ready::prepare(ctx, plan, variables);
            }
            Ok(document)
        });
        match &parsed {
            Ok(document) => self.trail.parsed(document),
            Err(error) => self.trail.refused(std::slice::from_ref(error)),
        }
        parsed
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let validated = next.run(ctx).await.and_then(|result| {
            let limit = self.rules.documents.limit();
            limit.validated(result, &self.pending)
        });
        match &validated {
            Ok(_) => {
                if let Some(unkept) = self.unkept.lock().ok().and_then(|mut u| u.take()) {
                    self.rules.documents.keep(unkept);
                }
                self.trail.validated();
            }
            Err(errors) => self.trail.refused(errors),
        }
        validated
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let direct = self.direct.lock().ok().and_then(|mut d| d.take());
        let mut response = self
            .rules
            .deadline
            .run(ctx, async {
                // The root field's access check first: refused, the engine answers (and
                // refuses it in the resolve step).
                if let Some(ready) = direct
                    && super::access::check_root(
                        ctx,
                        ready.root(),
                        "Query",
                        self.rules.introspection,
                    )
                    .is_ok()
                    && ready.answer(ctx).await
                {
                    // The answer is in the request's slot; the edge sends it.
                    return Response::new(Value::Null);
                }
                next.run(ctx, operation_name).await
            })
            .await;
        self.kept.restore(&mut response, operation_name);
        self.trail.executed(&response);
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        super::access::check_field(ctx, &info, self.rules.introspection)?;
        next.run(ctx, info).await
    }
}
