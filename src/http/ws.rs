//! Subscriptions over WebSocket (`graphql-transport-ws` and the legacy `graphql-ws`, chosen by
//! the subprotocol) and over Server-Sent Events (`graphql-sse`, distinct connections mode).
//!
//! A WebSocket is served here rather than by the integration's own loop so that shutdown can
//! close it with a close frame ("going away") instead of dropping the connection.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::graphql::error::LIMIT_EXCEEDED;
use crate::graphql::limits::SubscriptionSlots;

use crate::auth::{AuthError, authenticate};
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
        return (
            StatusCode::BAD_REQUEST,
            "offer the graphql-transport-ws or graphql-ws subprotocol\n",
        )
            .into_response();
    };
    // Count the socket from now on; the guard gives its place back when it closes.
    let open = state.sockets.fetch_add(1, Ordering::AcqRel);
    let slot = SocketSlot(state.sockets.clone());
    if open >= state.limits.max_ws_connections {
        drop(slot);
        let body = serde_json::json!({ "errors": [{
            "message": format!("the server holds at most {} WebSocket connections", state.limits.max_ws_connections),
            "extensions": { "code": LIMIT_EXCEEDED } }] });
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    upgrade
        // Messages here are small; the defaults (128 KiB each way) would make an idle
        // subscriber cost several times what its subscription does.
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(MAX_MESSAGE)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            serve_socket(state, protocol, socket, peer).await;
            drop(slot);
        })
        .into_response()
}

/// One open WebSocket, counted until dropped.
struct SocketSlot(Arc<AtomicUsize>);

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Close code 4408: `connection_init` did not come in time (graphql-transport-ws).
const INIT_TIMEOUT: u16 = 4408;

async fn serve_socket(
    state: AppState,
    protocol: WebSocketProtocols,
    socket: WebSocket,
    peer: Peer,
) {
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
    let store = state.store.clone();
    let access_log = state.access_log.clone();
    let max_subscriptions = state.limits.max_subscriptions_per_connection;
    let init_timeout =
        std::time::Duration::from_millis(state.limits.connection_init_timeout_ms.max(1));
    let mut initialized = false;
    let init_deadline = tokio::time::sleep(init_timeout);
    tokio::pin!(init_deadline);
    let output =
        async_graphql::http::WebSocket::new(state.executor.schema().clone(), input, protocol)
            .on_connection_init(move |payload| async move {
                // The token comes in the payload: {"authorization": "Bearer TOKEN"}.
                let authorization = payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
                    .and_then(|v| v.as_str());
                let principal =
                    authenticate(&store, authorization)
                        .await
                        .map_err(|error| match error {
                            AuthError::Unauthenticated(message) => {
                                async_graphql::Error::new(message)
                                    .extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
                            }
                            AuthError::Store(cause) => {
                                tracing::error!(error = %cause, "cannot read the tokens");
                                async_graphql::Error::new("internal error")
                            }
                        })?;
                let mut data = async_graphql::Data::default();
                data.insert(principal);
                data.insert(SubscriptionSlots::new(max_subscriptions));
                data.insert(access_log);
                if let Some(address) = peer.0 {
                    data.insert(address);
                }
                Ok(data)
            });
    let mut output = std::pin::pin!(output);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: GOING_AWAY,
                        reason: "the server is shutting down".into(),
                    })))
                    .await;
                break;
            }
            () = &mut init_deadline, if !initialized => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: INIT_TIMEOUT,
                        reason: "connection_init did not come in time".into(),
                    })))
                    .await;
                break;
            }
            message = output.next() => {
                let message = match message {
                    Some(WsMessage::Text(text)) => {
                        initialized = initialized || text.contains("\"connection_ack\"");
                        Message::Text(text.into())
                    }
                    Some(WsMessage::Close(code, reason)) => Message::Close(Some(CloseFrame {
                        code,
                        reason: reason.into(),
                    })),
                    None => {
                        // The protocol is done with the socket (a refused connection_init):
                        // close it properly rather than drop it.
                        let _ = sink.send(Message::Close(None)).await;
                        break;
                    }
                };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// A request over Server-Sent Events: every result as a `next` event, then `complete`.
pub async fn event_stream(state: AppState, request: async_graphql::Request) -> Response {
    let stream = state
        .executor
        .schema()
        .execute_stream(request)
        .map(|response| {
            let data = serde_json::to_string(&response).unwrap_or_else(|_| {
                r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#
                    .to_string()
            });
            Ok::<_, Infallible>(SseEvent::default().event("next").data(data))
        })
        .chain(async_graphql::futures_util::stream::once(async {
            Ok(SseEvent::default().event("complete").data(""))
        }));
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
