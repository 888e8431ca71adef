// A graphql-ws client completing an eventCreated subscription against a running server.
//   node ws.mjs ws://127.0.0.1:PORT/graphql/ws http://127.0.0.1:PORT/graphql [TOKEN]
// Subscribes, records an event over HTTP, and exits 0 once that event has arrived.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [wsUrl, httpUrl, token] = process.argv.slice(2);
const authorization = token ? `Bearer ${token}` : undefined;
const client = createClient({
  url: wsUrl,
  webSocketImpl: WebSocket,
  connectionParams: authorization ? { authorization } : {},
  retryAttempts: 0,
});
const timer = setTimeout(() => {
  console.error('no event within 15 s');
  process.exit(1);
}, 15000);

let recorded;
const done = new Promise((resolve, reject) => {
  const stop = client.subscribe(
    { query: 'subscription { eventCreated(filter: { categories: [USERS] }) { id eventName } }' },
    {
      next: (message) => {
        if (message.errors) return reject(new Error(JSON.stringify(message.errors)));
        const event = message.data.eventCreated;
        if (recorded && event.id === recorded) {
          console.log(`received ${event.eventName} ${event.id}`);
          stop();
          resolve();
        }
      },
      error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
      complete: () => {},
    },
  );
});

// Give the subscription a moment to be live, then write an event.
await new Promise((r) => setTimeout(r, 500));
const response = await fetch(httpUrl, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
  body: JSON.stringify({
    query:
      'mutation { recordEvent(input: { eventName: "user login", ipAddress: "10.1.2.3", userAgent: "graphql-ws", description: "{}" }) { id } }',
  }),
});
const body = await response.json();
if (!body.data) {
  console.error(JSON.stringify(body));
  process.exit(1);
}
recorded = body.data.recordEvent.id;
try {
  await done;
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
clearTimeout(timer);
await client.dispose();
process.exit(0);
