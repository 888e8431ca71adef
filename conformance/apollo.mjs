// Apollo Client against a running server, as a BI script or web app would use it:
//   node apollo.mjs http://127.0.0.1:PORT/graphql ws://127.0.0.1:PORT/graphql/ws TOKEN
// 1. a query, then the next page by its endCursor;
// 2. an automatic persisted query: the second time only the hash is sent;
// 3. two queries batched into one POST;
// 4. a subscription over graphql-ws that receives an event recorded meanwhile.
// Prints one line per step and exits 0 when every step held.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createHash } from 'node:crypto';

const [httpUrl, wsUrl, token] = process.argv.slice(2);
const headers = token ? { authorization: `Bearer ${token}` } : {};
const fail = (message) => {
  console.error(`FAILED ${message}`);
  process.exit(1);
};
setTimeout(() => fail('not done within 30 s'), 30000).unref();

// Every body the client sends, to see what the persisted-query link put in it.
const sent = [];
const recordingFetch = (url, init) => {
  sent.push(JSON.parse(init.body));
  return fetch(url, init);
};
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const http = new HttpLink({ uri: httpUrl, headers, fetch: recordingFetch });
const persisted = new PersistedQueryLink({ sha256 }).concat(
  new HttpLink({ uri: httpUrl, headers, fetch: recordingFetch }),
);
const ws = new GraphQLWsLink(
  createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
  }),
);
const isSubscription = ({ query }) => {
  const definition = getMainDefinition(query);
  return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
};
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.split(isSubscription, ws, http),
  defaultOptions: { query: { fetchPolicy: 'no-cache' } },
});

// 1. A query and the next page.
const PAGE = gql`
  query Page($after: String) {
    events(first: 2, after: $after) {
      edges { cursor node { id eventName createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const first = await client.query({ query: PAGE });
const firstIds = first.data.events.edges.map((e) => e.node.id);
if (firstIds.length !== 2 || !first.data.events.pageInfo.hasNextPage) fail(`first page ${JSON.stringify(first.data)}`);
const second = await client.query({ query: PAGE, variables: { after: first.data.events.pageInfo.endCursor } });
const secondIds = second.data.events.edges.map((e) => e.node.id);
if (secondIds.length === 0 || secondIds.some((id) => firstIds.includes(id))) fail(`second page ${JSON.stringify(second.data)}`);
if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(first.data.events.edges[0].node.createdAt)) fail('createdAt form');
console.log(`paged ${firstIds.join(',')} then ${secondIds.join(',')}`);

// 2. An automatic persisted query, asked twice.
const persistedClient = new ApolloClient({
  cache: new InMemoryCache(),
  link: persisted,
  defaultOptions: { query: { fetchPolicy: 'no-cache' } },
});
const LAST = gql`query Last { lastEventId }`;
sent.length = 0;
const once = await persistedClient.query({ query: LAST });
const twice = await persistedClient.query({ query: LAST });
if (once.data.lastEventId !== twice.data.lastEventId) fail('persisted answers differ');
const hashOnly = sent.filter((body) => !body.query && body.extensions?.persistedQuery);
const last = sent[sent.length - 1];
if (hashOnly.length < 2 || last.query) fail(`persisted bodies ${JSON.stringify(sent)}`);
console.log(`persisted query answered by hash (${sent.length} requests)`);

// 3. Two queries batched into one POST.
let batches = 0;
const batchClient = new ApolloClient({
  cache: new InMemoryCache(),
  link: new BatchHttpLink({
    uri: httpUrl,
    headers,
    batchMax: 5,
    batchInterval: 20,
    fetch: (url, init) => {
      const body = JSON.parse(init.body);
      if (Array.isArray(body)) batches += 1;
      return fetch(url, init);
    },
  }),
  defaultOptions: { query: { fetchPolicy: 'no-cache' } },
});
const [a, b] = await Promise.all([
  batchClient.query({ query: gql`query A { lastEventId }` }),
  batchClient.query({ query: gql`query B { eventCatalog { kind } }` }),
]);
if (batches !== 1 || !a.data.lastEventId || b.data.eventCatalog.length < 10) fail(`batch ${batches}`);
console.log('batched two queries in one request');

// 4. A subscription that receives an event recorded meanwhile.
const received = new Promise((resolve, reject) => {
  let recorded;
  const subscription = client
    .subscribe({
      query: gql`subscription { eventCreated(filter: { categories: [USERS] }) { id eventName } }`,
    })
    .subscribe({
      next: (result) => {
        if (result.error) return reject(result.error);
        const event = result.data?.eventCreated;
        if (!event) return;
        if (recorded === undefined) recorded = [];
        recorded.push(event.id);
        subscription.unsubscribe();
        resolve(event);
      },
      error: reject,
    });
});
await new Promise((resolve) => setTimeout(resolve, 500));
const written = await client.mutate({
  mutation: gql`mutation { recordEvent(input: { eventName: "user login", ipAddress: "10.1.2.3", userAgent: "apollo", description: "{}" }) { id } }`,
});
const event = await received;
if (event.id !== written.data.recordEvent.id) fail(`received ${JSON.stringify(event)}, recorded ${written.data.recordEvent.id}`);
console.log(`received ${event.eventName} ${event.id}`);
process.exit(0);
