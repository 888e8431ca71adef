//! GraphQL over HTTP: POST with a JSON body (single or batched), GET with query parameters.
//! A browser's GET (`Accept: text/html`, no query) gets the GraphiQL playground instead.

use async_graphql::BatchRequest;
use async_graphql::parser::types::OperationType;
use async_graphql_axum::GraphQLResponse;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::error::HttpError;
use super::graphiql;
use super::{AppState, Peer};
use crate::auth::Principal;
use crate::graphql::error::LIMIT_EXCEEDED;
use crate::graphql::fast::Answer;
use async_graphql::Request;

/// `POST /graphql`; with `Accept: text/event-stream`, the answer comes as Server-Sent Events
/// (subscriptions included). The body is read only once its `Content-Type` is JSON and the
/// token is known to be good.
pub async fn post_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
    body: axum::body::Body,
) -> Response {
    if !super::body::is_json(&headers) {
        return HttpError::UnsupportedMediaType.into_response();
    }
    let principal = match super::auth::principal(&state, &headers, &peer, "query").await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let request =
        match super::body::read(body, state.limits.max_body_bytes, state.limits.max_batch).await {
            Ok(request) => request,
            Err(error) => {
                record_refusal(&state, &principal, &peer, None, error.code());
                return error.into_response();
            }
        };
    let wants_events = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    match request {
        BatchRequest::Single(request) if wants_events => {
            let request = attach(&state, request, &peer).data(principal);
            super::ws::event_stream(state, request).await
        }
        BatchRequest::Batch(_) if wants_events => HttpError::BadRequest(
            "a batch cannot be answered as an event stream; send one request".into(),
        )
        .into_response(),
        BatchRequest::Single(request) => {
            single(&state, request, principal, &peer, Media::of(&headers)).await
        }
        BatchRequest::Batch(batch) => batch_of(&state, batch, principal, &peer, &headers).await,
    }
}

/// Runs a batch through the engine, under one time limit.
async fn batch_of(
    state: &AppState,
    batch: Vec<Request>,
    principal: Principal,
    peer: &Peer,
    headers: &HeaderMap,
) -> Response {
    let names: Vec<Option<String>> = batch.iter().map(|r| r.operation_name.clone()).collect();
    // One budget of report rows for the whole batch, so that a batch cannot multiply it.
    let rows = crate::graphql::limits::ReportRows::new(state.limits.max_report_rows);
    let batch = BatchRequest::Batch(
        batch
            .into_iter()
            .map(|request| rows.attach(attach(state, request, peer).data(principal.clone())))
            .collect(),
    );
    let started = std::time::Instant::now();
    let limit = state.limits.request_timeout();
    let Ok(responses) =
        tokio::time::timeout(limit, state.executor.schema().execute_batch(batch)).await
    else {
        for name in &names {
            crate::observe::request(name.as_deref(), LIMIT_EXCEEDED, started.elapsed());
            record_refusal(state, &principal, peer, name.as_deref(), LIMIT_EXCEEDED);
        }
        return HttpError::TimedOut(limit).into_response();
    };
    let elapsed = started.elapsed();
    let outcomes: Vec<String> = match &responses {
        async_graphql::BatchResponse::Single(r) => {
            vec![crate::graphql::audit::outcome(&r.errors)]
        }
        async_graphql::BatchResponse::Batch(rs) => rs
            .iter()
            .map(|r| crate::graphql::audit::outcome(&r.errors))
            .collect(),
    };
    for (name, outcome) in names.iter().zip(&outcomes) {
        crate::observe::request(name.as_deref(), outcome, elapsed);
    }
    let mut response = GraphQLResponse::from(responses).into_response();
    if let Ok(value) = header::HeaderValue::from_str(Media::of(headers).content_type()) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// The answer to a request whose persisted query was refused (an unknown hash, an operation
/// outside the allow-list), by POST or GET alike: counted, recorded, and answered as a request
/// error.
fn refused(
    state: &AppState,
    principal: &Principal,
    peer: &Peer,
    request: &Request,
    error: async_graphql::Error,
    media: Media,
) -> Response {
    let response = crate::graphql::error::refusal(error);
    let outcome = crate::graphql::audit::outcome(&response.errors);
    let operation = request.operation_name.as_deref();
    crate::observe::request(operation, &outcome, Default::default());
    record_refusal(state, principal, peer, operation, &outcome);
    engine_response(response, media)
}

/// Records in the access log a request the edge refused or cut off itself (the engine records
/// what it runs).
fn record_refusal(
    state: &AppState,
    principal: &Principal,
    peer: &Peer,
    operation_name: Option<&str>,
    outcome: &str,
) {
    state.access_log.record(crate::audit::Request {
        principal: Some(principal),
        kind: "query",
        operation_name,
        variables: serde_json::Value::Null,
        address: peer.0.as_ref(),
        outcome: outcome.to_string(),
    });
}

/// Gives a request what the engine's extensions need: the access log and the client address.
fn attach(state: &AppState, request: Request, peer: &Peer) -> Request {
    let request = request.data(state.access_log.clone());
    match &peer.0 {
        Some(address) => request.data(address.clone()),
        None => request,
    }
}

/// Runs one request; the request pipeline records it in the access log, whether the engine
/// or the direct path answered it.
async fn single(
    state: &AppState,
    mut request: Request,
    principal: Principal,
    peer: &Peer,
    media: Media,
) -> Response {
    // A hash stands for its query from here on (GET resolves it earlier, since the query decides
    // whether GET may run it; the pipeline finds nothing left to resolve).
    if let Err(error) = state.persisted.resolve(&mut request) {
        return refused(state, &principal, peer, &request, error, media);
    }
    let operation = request.operation_name.clone();
    let started = std::time::Instant::now();
    let request = attach(state, request, peer);
    let limit = state.limits.request_timeout();
    let Ok(result) =
        tokio::time::timeout(limit, state.executor.execute(request, principal.clone())).await
    else {
        crate::observe::request(operation.as_deref(), LIMIT_EXCEEDED, started.elapsed());
        record_refusal(
            state,
            &principal,
            peer,
            operation.as_deref(),
            LIMIT_EXCEEDED,
        );
        return HttpError::TimedOut(limit).into_response();
    };
    let outcome = match &result {
        Answer::Engine(response) => crate::graphql::audit::outcome(&response.errors),
        Answer::Json(_) => "OK".to_string(),
    };
    crate::observe::request(operation.as_deref(), &outcome, started.elapsed());
    answer(result, media)
}

/// The HTTP response for one answer; a direct answer looks exactly like the engine's.
fn answer(answer: Answer, media: Media) -> Response {
    match answer {
        Answer::Engine(response) => engine_response(response, media),
        Answer::Json(body) => {
            ([(header::CONTENT_TYPE, media.content_type())], body).into_response()
        }
    }
}

/// The media type a client asked for: `application/graphql-response+json` when its `Accept`
/// names it, `application/json` otherwise (also for `*/*` and no `Accept`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/json`: every well-formed request is answered 200.
    Json,
    /// `application/graphql-response+json`: a request that cannot run is answered 400, without
    /// `data`.
    GraphqlJson,
}

impl Media {
    /// The media type the headers ask for.
    pub fn of(headers: &HeaderMap) -> Media {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if accept.contains("application/graphql-response+json") {
            Media::GraphqlJson
        } else {
            Media::Json
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::GraphqlJson => "application/graphql-response+json",
        }
    }
}

/// The engine's answer in the media type asked for, written straight from the engine's values so
/// that objects keep the document's field order.
fn engine_response(response: async_graphql::Response, media: Media) -> Response {
    /// A request error's body: no `data` key at all.
    #[derive(serde::Serialize)]
    struct WithoutData<'a> {
        errors: &'a [async_graphql::ServerError],
        #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
    }
    // No field ran: the document did not parse or validate, or its variables did not coerce.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let without_data = media == Media::GraphqlJson && request_error;
    let body = if without_data {
        serde_json::to_vec(&WithoutData {
            errors: &response.errors,
            extensions: &response.extensions,
        })
    } else {
        serde_json::to_vec(&response)
    };
    let body = body.unwrap_or_else(|error| crate::graphql::error::unwritable(&error).into_bytes());
    let status = if without_data {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response()
}

/// `GET /graphql`: the playground for browsers, a query for everyone else.
pub async fn get_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
    uri: Uri,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && uri.query().is_none_or(|q| !q.contains("query=")) {
        if state.limits.no_graphiql {
            return (
                StatusCode::NOT_FOUND,
                "GraphiQL is switched off on this server\n",
            )
                .into_response();
        }
        return graphiql::page().into_response();
    }
    let principal = match super::auth::principal(&state, &headers, &peer, "query").await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let mut request = match async_graphql::http::parse_query_string(uri.query().unwrap_or_default())
    {
        Ok(request) => request,
        Err(error) => return bad_request(&error.to_string()),
    };
    if request.query.trim().is_empty() && !request.extensions.contains_key("persistedQuery") {
        return bad_request("missing the \"query\" parameter");
    }
    // A hash stands for its query from here on; the query decides whether GET may run it.
    if let Err(error) = state.persisted.resolve(&mut request) {
        return refused(
            &state,
            &principal,
            &peer,
            &request,
            error,
            Media::of(&headers),
        );
    }
    // A document over the size limit is not parsed here: the engine refuses it unparsed.
    if request.query.len() <= state.limits.max_document_bytes && !reads_only(&request.query) {
        return HttpError::PostOnly.into_response();
    }
    single(&state, request, principal, &peer, Media::of(&headers)).await
}

/// Whether a document holds queries only (a GET must not change anything). A document that
/// does not parse is left to the engine, which reports why.
fn reads_only(query: &str) -> bool {
    async_graphql::parser::parse_query(query).map_or(true, |document| {
        document
            .operations
            .iter()
            .all(|(_, operation)| operation.node.ty == OperationType::Query)
    })
}

/// A request that is not GraphQL at all: 400 with a GraphQL-shaped error body.
fn bad_request(message: &str) -> Response {
    HttpError::BadRequest(message.to_string()).into_response()
}
