//! Subscriptions over WebSocket (`graphql-transport-ws` and the legacy `graphql-ws`, chosen by
//! the subprotocol) and over Server-Sent Events (`graphql-sse`, distinct connections mode).
//!
//! A WebSocket is served here rather than by the integration's own loop so that shutdown can
//! close it with a close frame ("going away") instead of dropping the connection.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use crate::graphql::error::LIMIT_EXCEEDED;
use crate::graphql::limits::SubscriptionSlots;

use super::error::HttpError;
use crate::auth::AuthError;
use async_graphql::ErrorExtensions;
use async_graphql::futures_util::{SinkExt, StreamExt};
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::{AppState, Peer};
use crate::live::stopped;

/// Read and write buffer of a socket.
const SOCKET_BUFFER: usize = 4 * 1024;
/// The largest message a client may send (a subscription document with its variables).
const MAX_MESSAGE: usize = 1024 * 1024;

/// Close code 1001: the server is going away.
const GOING_AWAY: u16 = 1001;

/// `GET /graphql/ws`: the subprotocol the client offers first among those known decides.
///
/// A socket takes one of `--max-ws-connections` places once its `connection_init` is accepted;
/// until then it holds one of as many places for sockets still to say who they are, for at
/// most `--connection-init-timeout-ms`, so that silent sockets cannot keep out clients with a
/// token.
pub async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
    upgrade: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(protocol) = offered
        .split(',')
        .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
    else {
        return HttpError::BadRequest(
            "offer the graphql-transport-ws or graphql-ws subprotocol".into(),
        )
        .into_response();
    };
    let max = state.limits.max_ws_connections;
    if state.sockets.load(Ordering::Acquire) >= max {
        return full(max).into_response();
    }
    let address = peer.0.as_ref().map(|a| a.0.clone()).unwrap_or_default();
    let Some(pending) = PendingSockets::take(&state.pending_sockets, address, max) else {
        return full(max).into_response();
    };
    upgrade
        // Messages here are small; the defaults (128 KiB each way) would make an idle
        // subscriber cost several times what its subscription does.
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(MAX_MESSAGE)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve_socket(state, protocol, socket, peer, pending))
        .into_response()
}

/// The refusal when every place is taken.
fn full(max: usize) -> HttpError {
    HttpError::Limit {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!("the server holds at most {max} streaming connections"),
    }
}

/// Sockets beyond `--max-ws-connections` that may wait for their `connection_init` at once.
const PENDING_HEADROOM: usize = 64;
/// Sockets one client address may hold open before their `connection_init` at once.
const PENDING_PER_ADDRESS: usize = 16;

/// WebSockets that have not yet said who they are: in all, and per client address, so that
/// one client's silent sockets cannot keep everyone else from connecting.
#[derive(Debug, Default)]
pub struct PendingSockets {
    all: usize,
    by_address: std::collections::HashMap<String, usize>,
}

/// A pending socket's place, given back when dropped.
pub struct PendingSlot {
    pending: Arc<std::sync::Mutex<PendingSockets>>,
    address: String,
}

impl PendingSockets {
    /// Takes a place for a socket from `address`, when there is one.
    fn take(
        pending: &Arc<std::sync::Mutex<PendingSockets>>,
        address: String,
        max_connections: usize,
    ) -> Option<PendingSlot> {
        let mut sockets = pending.lock().unwrap_or_else(|e| e.into_inner());
        let mine = sockets.by_address.get(&address).copied().unwrap_or(0);
        if sockets.all >= max_connections.saturating_add(PENDING_HEADROOM)
            || mine >= PENDING_PER_ADDRESS
        {
            return None;
        }
        sockets.all += 1;
        sockets.by_address.insert(address.clone(), mine + 1);
        Some(PendingSlot {
            pending: pending.clone(),
            address,
        })
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut sockets = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        sockets.all = sockets.all.saturating_sub(1);
        if let Some(count) = sockets.by_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                sockets.by_address.remove(&self.address);
            }
        }
    }
}

/// A place among at most `max`, given back when dropped.
pub struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// Takes a place of `count` when fewer than `max` are taken.
    pub fn take(count: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        let before = count.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(count.clone());
        (before < max).then_some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Close code 4408: `connection_init` did not come in time (graphql-transport-ws).
const INIT_TIMEOUT: u16 = 4408;
/// How long a socket whose token was revoked may still send what its subscriptions said.
const REVOKED_GRACE: std::time::Duration = std::time::Duration::from_millis(250);
/// Close code 4403 ("Forbidden", graphql-transport-ws): the token does not, or no longer, let
/// the socket in.
const FORBIDDEN_CLOSE: u16 = 4403;
/// Close code 1013 ("Try Again Later"): every place for a socket is taken.
const TRY_AGAIN_LATER: u16 = 1013;
/// Close code 1011 ("Internal Error"): the server could not check the token.
const INTERNAL_CLOSE: u16 = 1011;

async fn serve_socket(
    state: AppState,
    protocol: WebSocketProtocols,
    socket: WebSocket,
    peer: Peer,
    pending: PendingSlot,
) {
    let mut pending = Some(pending);
    let mut stop = state.live.stop_signal();
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| std::future::ready(message.is_ok()))
        .filter_map(|message| {
            std::future::ready(match message {
                Ok(Message::Text(text)) => Some(text.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let init_timeout =
        std::time::Duration::from_millis(state.limits.connection_init_timeout_ms.max(1));
    let mut initialized = false;
    let init_deadline = tokio::time::sleep(init_timeout);
    tokio::pin!(init_deadline);
    // The token the socket was let in with, once it is known: its revocation closes the socket.
    let (admitted, mut token) = tokio::sync::watch::channel::<Option<String>>(None);
    let live = state.live.clone();
    let revoked = async move {
        let name = match token.wait_for(Option::is_some).await {
            Ok(name) => name.clone(),
            Err(_) => None,
        };
        match name {
            Some(name) => live.revoked(&name).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(revoked);
    // The close code of a refused `connection_init` (the engine would close with 1002,
    // "protocol error", which says nothing of the cause).
    let refused = Arc::new(Refusal::default());
    let refusal = refused.clone();
    let output =
        async_graphql::http::WebSocket::new(state.executor.schema().clone(), input, protocol)
            .on_connection_init(move |payload| {
                connection_init(state, peer, payload, admitted, refusal)
            });
    let mut output = std::pin::pin!(output);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => {
                let _ = sink.send(close(GOING_AWAY, "the server is shutting down")).await;
                break;
            }
            () = &mut init_deadline, if !initialized => {
                let _ = sink.send(close(INIT_TIMEOUT, "connection_init did not come in time")).await;
                break;
            }
            () = &mut revoked => {
                // The subscriptions end with their own UNAUTHENTICATED errors: let those out
                // first, for a moment, then close.
                let grace = tokio::time::sleep(REVOKED_GRACE);
                tokio::pin!(grace);
                loop {
                    tokio::select! {
                        () = &mut grace => break,
                        message = output.next() => match message {
                            Some(WsMessage::Text(text)) => {
                                if sink.send(Message::Text(text.into())).await.is_err() {
                                    break;
                                }
                            }
                            _ => break,
                        },
                    }
                }
                let _ = sink.send(close(FORBIDDEN_CLOSE, "the token was revoked")).await;
                break;
            }
            message = output.next() => {
                let message = match message {
                    Some(WsMessage::Text(text)) => {
                        if !initialized && text.contains("\"connection_ack\"") {
                            initialized = true;
                            // Counted among the admitted sockets from now on.
                            pending = None;
                        }
                        // The legacy protocol's `connection_error`: the engine keeps only the
                        // message, so the refusal's code and request id are put back.
                        let text = match refused.payload() {
                            Some(payload) if !initialized && text.contains("\"connection_error\"") => {
                                serde_json::json!({ "type": "connection_error", "payload": payload })
                                    .to_string()
                            }
                            _ => text,
                        };
                        Message::Text(text.into())
                    }
                    Some(WsMessage::Close(code, reason)) => {
                        let code = match refused.code.load(Ordering::Acquire) {
                            cause if cause != 0 && !initialized => cause,
                            _ => code,
                        };
                        close(code, &reason)
                    }
                    None => {
                        // The protocol is done with the socket (a refused connection_init):
                        // close it properly rather than drop it, with the refusal's code.
                        let frame = match refused.code.load(Ordering::Acquire) {
                            0 => Message::Close(None),
                            code => close(code, "connection_init refused"),
                        };
                        let _ = sink.send(frame).await;
                        break;
                    }
                };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(pending);
}

/// Checks `connection_init`: the token in its payload (`{"authorization": "Bearer TOKEN"}`),
/// then a place among the admitted sockets. What the socket's operations carry comes from here.
async fn connection_init(
    state: AppState,
    peer: Peer,
    payload: serde_json::Value,
    admitted: tokio::sync::watch::Sender<Option<String>>,
    refused: Arc<Refusal>,
) -> async_graphql::Result<async_graphql::Data> {
    let authorization = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(|v| v.as_str());
    let principal = match state
        .auth_cache
        .authenticate(&state.store, state.live.tokens_generation(), authorization)
        .await
    {
        Ok(principal) => principal,
        Err(AuthError::Unauthenticated(message)) => {
            if authorization.is_some() {
                state.access_log.record(crate::audit::Request {
                    principal: None,
                    kind: "subscription",
                    operation_name: None,
                    variables: serde_json::Value::Null,
                    address: peer.0.as_ref(),
                    outcome: "UNAUTHENTICATED".into(),
                });
            }
            return Err(refused.refuse(FORBIDDEN_CLOSE, message, "UNAUTHENTICATED"));
        }
        Err(AuthError::Store(cause)) => {
            tracing::error!(error = %cause, "cannot read the tokens");
            return Err(refused.refuse(
                INTERNAL_CLOSE,
                "internal error",
                crate::graphql::error::INTERNAL,
            ));
        }
    };
    let max = state.limits.max_ws_connections;
    let Some(slot) = Slot::take(&state.sockets, max) else {
        return Err(refused.refuse(TRY_AGAIN_LATER, &full(max).to_string(), LIMIT_EXCEEDED));
    };
    let _ = admitted.send(Some(principal.token.clone().unwrap_or_default()));
    let mut data = async_graphql::Data::default();
    data.insert(principal);
    data.insert(SubscriptionSlots::new(
        state.limits.max_subscriptions_per_connection,
    ));
    data.insert(state.access_log.clone());
    data.insert(crate::graphql::limits::Streamed);
    data.insert(slot);
    if let Some(address) = peer.0 {
        data.insert(address);
    }
    Ok(data)
}

/// A close frame.
fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Why `connection_init` was refused, once it is: the close code, and the error as the client
/// is told it (code and request id included).
#[derive(Default)]
struct Refusal {
    code: AtomicU16,
    payload: std::sync::Mutex<Option<serde_json::Value>>,
}

impl Refusal {
    /// Records a refusal (also logged) and returns the error the engine answers with.
    fn refuse(&self, close: u16, message: &str, code: &'static str) -> async_graphql::Error {
        let request_id = crate::graphql::error::new_request_id();
        tracing::info!(request_id = %request_id, code, message, "connection_init refused");
        if let Ok(mut payload) = self.payload.lock() {
            *payload = Some(serde_json::json!({
                "message": message,
                "extensions": { "code": code, "requestId": request_id },
            }));
        }
        self.code.store(close, Ordering::Release);
        async_graphql::Error::new(message).extend_with(|_, e| {
            e.set("code", code);
            e.set("requestId", request_id.as_str());
        })
    }

    fn payload(&self) -> Option<serde_json::Value> {
        self.payload.lock().ok().and_then(|payload| payload.clone())
    }
}

/// A request over Server-Sent Events: every result as a `next` event, then `complete`. The
/// stream holds one of the `--max-ws-connections` places while it is open, and a query on it
/// keeps the request time limit.
pub async fn event_stream(state: AppState, request: async_graphql::Request) -> Response {
    let max = state.limits.max_ws_connections;
    let Some(slot) = Slot::take(&state.sockets, max) else {
        return full(max).into_response();
    };
    let request = request.data(crate::graphql::limits::Streamed);
    let stream = state
        .executor
        .schema()
        .execute_stream(request)
        .map(move |response| {
            let _held = &slot;
            let data = serde_json::to_string(&response)
                .unwrap_or_else(|error| crate::graphql::error::unwritable(&error));
            Ok::<_, Infallible>(SseEvent::default().event("next").data(data))
        })
        .chain(async_graphql::futures_util::stream::once(async {
            Ok(SseEvent::default().event("complete").data(""))
        }));
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
