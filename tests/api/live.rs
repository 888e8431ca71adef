//! `eventCreated` over WebSocket (both protocols) and Server-Sent Events: every writer's events,
//! filtered, in id order, each once; replay with `after`; transactions committing out of id
//! order; a subscriber that falls behind is cut off with where to resume.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) const SUBSCRIPTION: &str = "subscription($filter: EventFilter, $after: ID) {
  eventCreated(filter: $filter, after: $after) { id eventName userId }
}";

/// A subscriber speaking `graphql-transport-ws` (modern) or `graphql-ws` (legacy).
pub(crate) struct Subscriber {
    socket: Socket,
    legacy: bool,
}

impl Subscriber {
    pub(crate) async fn connect(address: &str, legacy: bool, variables: Value) -> Subscriber {
        Self::connect_with(address, legacy, variables, json!({})).await
    }

    /// Connects with `payload` in `connection_init` and subscribes.
    pub(crate) async fn connect_with(
        address: &str,
        legacy: bool,
        variables: Value,
        payload: Value,
    ) -> Subscriber {
        let (mut subscriber, ack) = Self::open(address, legacy, payload).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        let start = if legacy { "start" } else { "subscribe" };
        subscriber
            .send(json!({ "id": "1", "type": start,
                          "payload": { "query": SUBSCRIPTION, "variables": variables } }))
            .await;
        // The subscription is live once the server has read the request; give it a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
        subscriber
    }

    /// Connects and sends `connection_init` with `payload`; returns the server's reply.
    pub(crate) async fn open(address: &str, legacy: bool, payload: Value) -> (Subscriber, Value) {
        let mut request = format!("ws://{address}/graphql/ws")
            .into_client_request()
            .expect("request");
        let protocol = if legacy {
            "graphql-ws"
        } else {
            "graphql-transport-ws"
        };
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("connect");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        let mut subscriber = Subscriber { socket, legacy };
        subscriber
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let reply = subscriber.receive().await;
        (subscriber, reply)
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    pub(crate) async fn receive(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("a message within 10 s");
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(error)) => return json!({ "type": "closed", "error": error.to_string() }),
                None => return json!({ "type": "closed" }),
            };
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON");
                    if value["type"] == "ka" || value["type"] == "ping" {
                        continue;
                    }
                    return value;
                }
                Message::Close(frame) => {
                    return json!({ "type": "closed", "frame": format!("{frame:?}") });
                }
                _ => continue,
            }
        }
    }

    /// The next message as the server wrote it.
    async fn receive_text(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("a message within 10 s");
            if let Some(Ok(Message::Text(text))) = message {
                if !text.contains("\"ka\"") && !text.contains("\"ping\"") {
                    return text.to_string();
                }
            }
        }
    }

    /// The next event's id, name and user.
    async fn next_event(&mut self) -> Value {
        let message = self.receive().await;
        let kind = if self.legacy { "data" } else { "next" };
        assert_eq!(message["type"], kind, "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        message["payload"]["data"]["eventCreated"].clone()
    }

    pub(crate) async fn next_ids(&mut self, n: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let event = self.next_event().await;
            ids.push(event["id"].as_str().expect("id").parse().expect("number"));
        }
        ids
    }

    /// Nothing more arrives for a while.
    pub(crate) async fn quiet(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(600), self.socket.next()).await;
        assert!(next.is_err(), "unexpected message: {next:?}");
    }
}

on_both_backends! {
    async fn events_keep_the_document_order(app: TestApp) {
        // `user` waits on the user loader: the engine would write it last.
        let address = app.serve().await;
        let (mut subscriber, ack) = Subscriber::open(&address, false, json!({})).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        subscriber
            .send(json!({ "id": "1", "type": "subscribe", "payload": {
                "query": "subscription { eventCreated { user { username } id eventName } }" } }))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")
            .user(Some(ANA))
            .description(r#"{"username":"ana"}"#)])
            .await;
        let message = subscriber.receive_text().await;
        let text = &message[message.find("\"eventCreated\"").unwrap_or_else(|| panic!("an event: {message}"))..];
        let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{key} in {text}"));
        assert!(at("user") < at("username") && at("username") < at("id") && at("id") < at("eventName"), "{text}");
    }

    async fn socket_limits_hold(app: TestApp) {
        let limits = user_events::config::Limits {
            max_ws_connections: 2,
            max_subscriptions_per_connection: 1,
            connection_init_timeout_ms: 500,
            ..user_events::config::Limits::default()
        };
        let app = TestApp::with_limits(app.backend, limits).await;
        let address = app.serve().await;
        let mut first = Subscriber::connect(&address, false, json!({})).await;
        // A second subscription on the same connection is one too many.
        first
            .send(json!({ "id": "2", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
            .await;
        let refused = first.receive().await;
        assert_eq!(refused["id"], "2", "{refused}");
        assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{refused}");
        let done = first.receive().await;
        assert_eq!((done["id"].as_str(), done["type"].as_str()), (Some("2"), Some("complete")), "{done}");
        // A connection that never sends connection_init is cut off when its time runs out;
        // meanwhile it holds none of the places of the connections that did.
        let mut request = format!("ws://{address}/graphql/ws").into_client_request().expect("request");
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
        let (silent, _) = tokio_tungstenite::connect_async(request.clone()).await.expect("connect");
        let mut silent = Subscriber { socket: silent, legacy: false };
        let second = Subscriber::connect(&address, true, json!({})).await;
        // Two are admitted: a third is refused at the handshake.
        let third = tokio_tungstenite::connect_async(request.clone()).await;
        let status = match third {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
            other => panic!("a third connection was let in: {other:?}"),
        };
        assert_eq!(status, 503);
        let closed = silent.receive().await;
        assert_eq!(closed["type"], "closed", "{closed}");
        assert!(closed["frame"].as_str().unwrap_or_default().contains("4408"), "{closed}");
        // A place is free again once a socket closes, and the first subscription still delivers.
        drop(second);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _again = Subscriber::connect(&address, true, json!({})).await;
        let ids = app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        assert_eq!(first.next_ids(1).await, ids);
    }

    async fn tokens_open_and_revocation_ends_subscriptions(app: TestApp) {
        use crate::auth::token;
        let address = app.serve().await;
        let analyst = token(&app.url, &["create", "--role", "analyst", "--name", "screen"]);
        let own = token(&app.url, &["create", "--role", "self", "--name", "ana", "--user-id", ANA]);
        let ingest = token(&app.url, &["create", "--role", "ingest", "--name", "pipe"]);
        for legacy in [false, true] {
            // No token, or a wrong one: the connection is refused.
            for payload in [json!({}), json!({ "authorization": "Bearer ue_wrong" })] {
                let (mut refused, reply) = Subscriber::open(&address, legacy, payload).await;
                if legacy {
                    assert_eq!(reply["type"], "connection_error", "{reply}");
                    assert_eq!(refused.receive().await["type"], "closed");
                } else {
                    assert_eq!(reply["type"], "closed", "{reply}");
                    assert!(reply["frame"].as_str().unwrap_or_default().contains("token"), "{reply}");
                }
            }
        }
        // The ingest role may not subscribe.
        let mut pipe = Subscriber::connect_with(&address, false, json!({}), json!({ "authorization": format!("Bearer {ingest}") })).await;
        let refused = pipe.receive().await;
        assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");

        let mut screen = Subscriber::connect_with(&address, false, json!({}), json!({ "authorization": format!("Bearer {analyst}") })).await;
        let mut ana = Subscriber::connect_with(&address, true, json!({}), json!({ "authorization": format!("Bearer {own}") })).await;
        let ids = app
            .insert(&[
                Row::new("user login", "2026-01-01 10:00:00").user(Some(BO)),
                Row::new("user login", "2026-01-01 10:01:00").user(Some(ANA)),
            ])
            .await;
        assert_eq!(screen.next_ids(2).await, ids);
        assert_eq!(ana.next_ids(1).await, vec![ids[1]], "a self token sees its own user only");
        ana.quiet().await;

        // The subscription is in the access log, with its kind and outcome.
        let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
        let mut entries = Vec::new();
        for _ in 0..50 {
            let request = axum::http::Request::post("/graphql")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {admin}"))
                .body(axum::body::Body::from(
                    json!({ "query": "{ accessLog(tokenName: \"screen\") { nodes { kind outcome address } } }" }).to_string(),
                ))
                .expect("request");
            let (_, _, body) = app.send(request).await;
            let body: Value = serde_json::from_slice(&body).expect("JSON");
            entries = body["data"]["accessLog"]["nodes"].as_array().cloned().unwrap_or_default();
            if !entries.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["kind"], "subscription");
        assert_eq!(entries[0]["outcome"], "SUBSCRIBED");
        assert_eq!(entries[0]["address"], "127.0.0.1");

        // Revoking the token ends its subscription with UNAUTHENTICATED.
        token(&app.url, &["revoke", "screen"]);
        let ended = screen.receive().await;
        assert_eq!(ended["type"], "next", "{ended}");
        assert_eq!(ended["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{ended}");
        assert_eq!(screen.receive().await["type"], "complete");
        // Then the socket closes: nothing more runs on it.
        let closed = screen.receive().await;
        assert!(closed["frame"].as_str().unwrap_or_default().contains("4403"), "{closed}");
        // The other token's subscription goes on.
        let later = app.insert(&[Row::new("user logout", "2026-01-01 11:00:00").user(Some(ANA))]).await;
        assert_eq!(ana.next_ids(1).await, later);
    }

    async fn both_protocols_deliver_plain_sql_inserts_filtered(app: TestApp) {
        let address = app.serve().await;
        for legacy in [false, true] {
            let mut sessions = Subscriber::connect(&address, legacy, json!({ "filter": { "categories": ["SESSIONS"] } })).await;
            let mut bo = Subscriber::connect(&address, legacy, json!({ "filter": { "userIds": [BO] } })).await;
            let ids = app
                .insert(&[
                    Row::new("user login", "2026-01-01 10:00:00"),
                    Row::new("session launched", "2026-01-01 10:01:00").user(Some(BO)),
                    Row::new("file downloaded", "2026-01-01 10:02:00").user(Some(BO)),
                    Row::new("session stopped", "2026-01-01 10:03:00"),
                ])
                .await;
            assert_eq!(sessions.next_ids(2).await, vec![ids[1], ids[3]], "legacy: {legacy}");
            assert_eq!(bo.next_ids(2).await, vec![ids[1], ids[2]], "legacy: {legacy}");
            sessions.quiet().await;
        }
    }

    async fn mutations_and_replay_with_after_lose_nothing(app: TestApp) {
        let address = app.serve().await;
        let ids = app
            .insert(&[
                Row::new("user login", "2026-01-01 10:00:00"),
                Row::new("user login", "2026-01-01 10:01:00"),
                Row::new("user login", "2026-01-01 10:02:00"),
            ])
            .await;
        let mut resumed = Subscriber::connect(&address, false, json!({ "after": ids[0].to_string() })).await;
        assert_eq!(resumed.next_ids(2).await, vec![ids[1], ids[2]]);
        let data = app
            .query(
                "mutation { recordEvent(input: { ipAddress: \"10.0.0.1\", userAgent: \"ua\", eventName: \"user logout\", description: \"{}\" }) { id } }",
                json!({}),
            )
            .await;
        let recorded: i64 = data["recordEvent"]["id"].as_str().expect("id").parse().expect("number");
        assert_eq!(resumed.next_ids(1).await, vec![recorded]);

        // Reconnecting with the last id seen, while events keep arriving, gives each once.
        drop(resumed);
        let more = app
            .insert(&[Row::new("user login", "2026-01-01 11:00:00"), Row::new("user login", "2026-01-01 11:01:00")])
            .await;
        let mut again = Subscriber::connect(&address, true, json!({ "after": recorded.to_string() })).await;
        let later = app.insert(&[Row::new("user login", "2026-01-01 12:00:00")]).await;
        assert_eq!(again.next_ids(3).await, vec![more[0], more[1], later[0]]);
        again.quiet().await;
    }

    async fn last_event_id_is_where_a_new_feed_begins(app: TestApp) {
        let address = app.serve().await;
        let empty = app.query("{ lastEventId }", json!({})).await;
        assert_eq!(empty["lastEventId"], "0");
        // The newest event by time is not the one with the largest id.
        let ids = app
            .insert(&[
                Row::new("user login", "2026-03-01 10:00:00"),
                Row::new("user login", "2026-01-01 10:00:00"),
            ])
            .await;
        let mut last = Value::Null;
        for _ in 0..100 {
            last = app.query("{ lastEventId }", json!({})).await["lastEventId"].clone();
            if last == json!(ids[1].to_string()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(last, json!(ids[1].to_string()), "the feed reaches the largest id");
        let mut feed = Subscriber::connect(&address, false, json!({ "after": last })).await;
        let later = app.insert(&[Row::new("user logout", "2025-01-01 10:00:00")]).await;
        assert_eq!(feed.next_ids(1).await, later, "only what came after, nothing replayed");
        feed.quiet().await;
    }

    async fn server_sent_events_carry_subscriptions(app: TestApp) {
        let address = app.serve().await;
        let response = reqwest::Client::new()
            .post(format!("http://{address}/graphql"))
            .header("accept", "text/event-stream")
            .json(&json!({ "query": SUBSCRIPTION, "variables": { "filter": { "kinds": ["USER_LOGOUT"] } } }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/event-stream"));
        let mut body = response.bytes_stream();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let ids = app
            .insert(&[Row::new("user login", "2026-01-01 10:00:00"), Row::new("user logout", "2026-01-01 10:01:00")])
            .await;
        let mut text = String::new();
        while !text.contains("event: next") || !text.contains("\n\n") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
                .await
                .expect("an event within 10 s")
                .expect("open")
                .expect("bytes");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        let data = text
            .lines()
            .find_map(|line| line.strip_prefix("data: "))
            .expect("a data line");
        let event: Value = serde_json::from_str(data).expect("JSON");
        assert_eq!(event["data"]["eventCreated"]["id"], ids[1].to_string(), "{text}");
    }

    async fn a_subscriber_that_falls_behind_is_cut_off_with_where_to_resume(app: TestApp) {
        use user_events::live::{Delivery, Live};
        let live = Live::start_with_buffer(app.store.clone(), &app.url, 8).await.expect("live");
        let stalled = live.subscribe(app.store.clone(), Default::default(), None);
        let healthy = live.subscribe(app.store.clone(), Default::default(), None);
        let mut stalled = std::pin::pin!(stalled);
        let mut healthy = std::pin::pin!(healthy);
        let mut received = Vec::new();
        for batch in 0..10 {
            let rows: Vec<Row> = (0..5).map(|_| Row::new("user login", "2026-01-01 10:00:00")).collect();
            let ids = app.insert(&rows).await;
            live.nudge();
            while received.last() != ids.last() {
                match tokio::time::timeout(Duration::from_secs(10), healthy.next()).await {
                    Ok(Some(Ok(Delivery::Event(row)))) => received.push(row.id),
                    other => panic!("batch {batch}: {other:?}"),
                }
            }
        }
        assert_eq!(received.len(), 50, "the healthy subscriber got every event");
        assert!(received.windows(2).all(|w| w[0] < w[1]));
        let mut got = Vec::new();
        let last_id = loop {
            match stalled.next().await {
                Some(Ok(Delivery::Event(row))) => got.push(row.id),
                Some(Ok(Delivery::Lagged { last_id })) => break last_id,
                other => panic!("{other:?}"),
            }
        };
        assert!(got.len() < 50);
        assert!(stalled.next().await.is_none(), "the lagging subscription ends");
        // Resuming after the id it was given misses nothing.
        let resumed = live.subscribe(app.store.clone(), Default::default(), Some(last_id));
        let mut resumed = std::pin::pin!(resumed);
        let mut rest = Vec::new();
        while rest.len() + got.len() < 50 && rest.last() != received.last() {
            if let Some(Ok(Delivery::Event(row))) = resumed.next().await {
                rest.push(row.id);
            }
        }
        let all: Vec<i64> = got.into_iter().chain(rest).collect();
        let tail = &received[received.len() - all.len()..];
        assert!(all.ends_with(tail) || all == received, "{all:?}");
        live.shutdown();
    }
}

/// Runs an INSERT ... RETURNING id inside an open transaction.
async fn insert_returning_id(tx: &sea_orm::DatabaseTransaction, insert: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    tx.query_one_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        insert,
    ))
    .await
    .expect("insert")
    .expect("row")
    .try_get_by_index(0)
    .expect("id")
}

/// Two transactions that commit in reverse id order: both are delivered, in id order.
#[tokio::test]
async fn transactions_committing_out_of_id_order_are_both_delivered() {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let app = TestApp::new(Backend::Postgres).await;
    let address = app.serve().await;
    let mut subscriber = Subscriber::connect(&address, false, json!({})).await;
    let first = Database::connect(&app.url).await.expect("connect");
    let second = Database::connect(&app.url).await.expect("connect");
    let insert = "INSERT INTO user_events (ipaddr, user_agent, event_name, description, created_at) \
                  VALUES ('10.0.0.1', 'ua', 'user login', '{}', now()) RETURNING id";
    let early = first.begin().await.expect("begin");
    let early_id = insert_returning_id(&early, insert).await;
    let late = second.begin().await.expect("begin");
    let late_id = insert_returning_id(&late, insert).await;
    assert!(late_id > early_id);
    late.commit().await.expect("commit the larger id first");
    // The larger id is committed, but the smaller one may still come: nothing is delivered.
    subscriber.quiet().await;
    early.commit().await.expect("commit");
    assert_eq!(subscriber.next_ids(2).await, vec![early_id, late_id]);

    // A rolled-back id never blocks what follows.
    let gone = first.begin().await.expect("begin");
    gone.execute_unprepared(insert).await.expect("insert");
    let kept = app
        .insert(&[Row::new("user logout", "2026-01-01 10:00:00")])
        .await;
    gone.rollback().await.expect("rollback");
    assert_eq!(subscriber.next_ids(1).await, kept);
}

/// A transaction that took its id before the server started and commits after it: its event
/// reaches the live subscribers, in id order before the events that follow.
#[tokio::test]
async fn an_event_with_a_smaller_id_committed_just_after_start_is_delivered() {
    use sea_orm::{Database, TransactionTrait};
    let app = TestApp::new(Backend::Postgres).await;
    let connection = Database::connect(&app.url).await.expect("connect");
    let insert = "INSERT INTO user_events (ipaddr, user_agent, event_name, description, created_at) \
                  VALUES ('10.0.0.1', 'ua', 'user login', '{}', now()) RETURNING id";
    let early = connection.begin().await.expect("begin");
    let early_id = insert_returning_id(&early, insert).await;
    let stored = app
        .insert(&[Row::new("user logout", "2026-01-01 10:00:00")])
        .await;
    assert!(stored[0] > early_id);
    let server = ServerProcess::start(&app.url, &[]);
    let mut subscriber = Subscriber::connect(&server.address, false, json!({})).await;
    early
        .commit()
        .await
        .expect("commit after the server started");
    let later = app
        .insert(&[Row::new("user login", "2026-01-01 10:01:00")])
        .await;
    // The event stored before the start follows the one it waited for: every id once, in order.
    assert_eq!(
        subscriber.next_ids(3).await,
        vec![early_id, stored[0], later[0]]
    );
}

/// Two server processes on one PostgreSQL database both deliver every event.
#[tokio::test]
async fn two_server_processes_both_deliver() {
    let app = TestApp::new(Backend::Postgres).await;
    let one = ServerProcess::start(&app.url, &[]);
    let two = ServerProcess::start(&app.url, &[]);
    let mut first = Subscriber::connect(&one.address, false, json!({})).await;
    let mut second = Subscriber::connect(&two.address, true, json!({})).await;
    let ids = app
        .insert(&[
            Row::new("user login", "2026-01-01 10:00:00"),
            Row::new("user logout", "2026-01-01 10:01:00"),
        ])
        .await;
    assert_eq!(first.next_ids(2).await, ids);
    assert_eq!(second.next_ids(2).await, ids);

    // SIGTERM closes the socket with a close frame.
    let (status, _) = one.terminate();
    assert!(status.success());
    let mut closed = first.receive().await;
    while closed["type"] == "complete" {
        closed = first.receive().await;
    }
    assert_eq!(closed["type"], "closed", "{closed}");
    assert!(
        closed["frame"]
            .as_str()
            .unwrap_or_default()
            .contains("1001")
            || closed["frame"]
                .as_str()
                .unwrap_or_default()
                .contains("Away"),
        "{closed}"
    );
}
