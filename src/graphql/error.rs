//! Errors at the GraphQL edge: every error a client sees carries `extensions.code`.
//!
//! - `BAD_USER_INPUT`: the request is at fault (syntax, validation, argument values, cursors);
//!   the message names the argument.
//! - `LIMIT_EXCEEDED`: the request is deeper, larger or wider than the server allows (depth,
//!   complexity, batch size, report rows), or a subscriber fell behind.
//! - `INTERNAL`: the server is at fault; the cause is logged and the client is told only
//!   "internal error", so no SQL, path or type name leaks.
//!
//! Every error also carries `extensions.requestId`, the id the request's log lines carry.

use async_graphql::{ErrorExtensions, Response, Value};

use crate::store::StoreError;

/// The request is at fault.
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
/// The server is at fault.
pub const INTERNAL: &str = "INTERNAL";
/// The request is larger or deeper than the server allows.
pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";

/// An error blaming the request, naming the argument at fault.
pub fn bad_input(argument: &str, message: impl std::fmt::Display) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "invalid value for argument \"{argument}\": {message}"
    ))
    .extend_with(|_, e| {
        e.set("code", BAD_USER_INPUT);
        e.set("argument", argument);
    })
}

/// An internal error: logged here, reported to the client without detail. The one store error
/// that is the request's doing, a report over too many changes of offset, is `LIMIT_EXCEEDED`.
pub fn internal(error: StoreError) -> async_graphql::Error {
    if let StoreError::TooManyOffsets { .. } = error {
        return async_graphql::Error::new(error.to_string())
            .extend_with(|_, e| e.set("code", LIMIT_EXCEEDED));
    }
    tracing::error!(request_id = %RequestId, error = %error, "store error");
    async_graphql::Error::new("internal error").extend_with(|_, e| e.set("code", INTERNAL))
}

/// An internal error with a cause of the server's own making (logged, not sent).
pub fn internal_message(cause: &str) -> async_graphql::Error {
    tracing::error!(request_id = %RequestId, cause, "internal error");
    async_graphql::Error::new("internal error").extend_with(|_, e| e.set("code", INTERNAL))
}

/// An internal error shared by the callers of one batched load.
pub fn internal_shared(error: std::sync::Arc<StoreError>) -> async_graphql::Error {
    tracing::error!(request_id = %RequestId, error = %error, "store error");
    async_graphql::Error::new("internal error").extend_with(|_, e| e.set("code", INTERNAL))
}

/// `LIMIT_EXCEEDED`, with the limit under `extensions.maxReportRows`.
impl ErrorExtensions for crate::graphql::limits::TooManyReportRows {
    fn extend(&self) -> async_graphql::Error {
        let max = u64::try_from(self.max).unwrap_or(u64::MAX);
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", LIMIT_EXCEEDED);
            e.set("maxReportRows", max);
        })
    }
}

/// Maps a store result at the GraphQL edge. Resolvers must use this rather than `?` on a
/// `StoreError`: async-graphql would turn the error's text (SQL included) into the message.
pub trait OrInternal<T> {
    /// The value, or an `INTERNAL` error with the cause logged.
    fn or_internal(self) -> async_graphql::Result<T>;
}

impl<T> OrInternal<T> for Result<T, StoreError> {
    fn or_internal(self) -> async_graphql::Result<T> {
        self.map_err(internal)
    }
}

/// The store every resolver works on (registered when the schema is built).
pub fn store<'a>(ctx: &async_graphql::Context<'a>) -> &'a crate::store::Store {
    ctx.data_unchecked::<crate::store::Store>()
}

/// A fresh request id: what the request's log lines and its errors' `extensions.requestId`
/// carry.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

tokio::task_local! {
    /// The id of the request the current task is answering.
    static REQUEST_ID: std::sync::Arc<str>;
}

/// Runs a request's work with its id at hand for the log lines it writes. (A task-local value:
/// a tracing span around the request cost every poll of it an enter and an exit, a few per cent
/// of a small request's CPU.)
pub async fn with_request_id<F: std::future::Future>(request_id: &str, work: F) -> F::Output {
    REQUEST_ID.scope(request_id.into(), work).await
}

/// A stream (a subscription, or any operation over WebSocket or SSE) polled with its request
/// id at hand for the log lines it writes.
pub fn stream_with_request_id<'s, S>(
    request_id: &str,
    stream: S,
) -> impl async_graphql::futures_util::Stream<Item = S::Item> + Send + 's
where
    S: async_graphql::futures_util::Stream + Send + 's,
{
    use async_graphql::futures_util::StreamExt;
    let request_id: std::sync::Arc<str> = request_id.into();
    let mut stream = Box::pin(stream);
    async_graphql::futures_util::stream::poll_fn(move |cx| {
        REQUEST_ID.sync_scope(request_id.clone(), || stream.poll_next_unpin(cx))
    })
}

/// The id of the request being answered, as a log field (`-` outside of one).
pub struct RequestId;

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match REQUEST_ID.try_with(|id| f.write_str(id)) {
            Ok(written) => written,
            Err(_) => f.write_str("-"),
        }
    }
}

/// Gives every error of `response` a code and the request id, and drops the placeholder
/// location (line 0) of errors that have no place in the document.
pub fn label(response: &mut Response, request_id: &str) {
    for error in &mut response.errors {
        error.locations.retain(|at| at.line > 0 && at.column > 0);
        // Every limit sets its own code (`limits::DocumentLimit` checks size, fields, nesting,
        // depth and cost before the engine would); what the engine raises itself is a parse,
        // validation or coercion error: the request's fault.
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", Value::from(BAD_USER_INPUT));
        }
        extensions.set("requestId", Value::from(request_id));
    }
}

/// The body of an answer that could not be written (serialization failed): `INTERNAL`, with a
/// request id under which the cause is logged.
pub fn unwritable(cause: &dyn std::fmt::Display) -> String {
    let request_id = new_request_id();
    tracing::error!(request_id = %request_id, %cause, "cannot write an answer");
    serde_json::json!({ "errors": [{ "message": "internal error",
        "extensions": { "code": INTERNAL, "requestId": request_id } }] })
    .to_string()
}

/// The answer to a request refused before it reached the engine (an unknown persisted query,
/// an operation outside the allow-list): one error without a location, labelled like every
/// other.
pub fn refusal(error: async_graphql::Error) -> Response {
    let mut response =
        Response::from_errors(vec![error.into_server_error(async_graphql::Pos::default())]);
    let request_id = new_request_id();
    tracing::info!(request_id = %request_id, message = %response.errors[0].message, "request refused");
    label(&mut response, &request_id);
    response
}
