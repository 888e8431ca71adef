// The graphql-http server audit against a running user-events server.
//   node audit.mjs http://127.0.0.1:PORT/graphql [TOKEN]
// Prints every audit with its level; exits 1 when a MUST audit fails.
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url) {
  console.error('usage: node audit.mjs URL [TOKEN]');
  process.exit(2);
}
const fetchFn = token
  ? (input, init = {}) =>
      fetch(input, {
        ...init,
        headers: { ...Object.fromEntries(new Headers(init.headers ?? {})), authorization: `Bearer ${token}` },
      })
  : fetch;

const results = await auditServer({ url, fetchFn });
let failed = 0;
for (const result of results) {
  const level = result.name.split(' ')[0];
  const line = `${result.status.padEnd(6)} ${result.name}`;
  if (result.status === 'ok') {
    console.log(line);
  } else {
    if (result.status === 'error') failed += 1;
    console.log(`${line}\n       ${result.reason}`);
  }
  void level;
}
const count = (status) => results.filter((r) => r.status === status).length;
console.log(`ok ${count('ok')}, warn ${count('warn')}, notice ${count('notice')}, error ${count('error')}`);
process.exit(failed > 0 ? 1 : 0);
