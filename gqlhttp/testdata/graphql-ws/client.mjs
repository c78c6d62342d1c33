// Drives the stock graphql-ws client (with the ws package as its socket)
// against a gqlhttp endpoint: node client.mjs ws://host/query
//
// Each scenario prints one JSON line: {"name", "events", "outcome",
// "code", "reason", "errors"}. The Go test (graphqlws_test.go) serves the
// tiny schema with the tokens and bounds the scenarios expect, and judges
// the lines. Scenarios that need a breach of the protocol, which the stock
// client never commits, give it a socket that rewrites what it sends.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.argv[2];

// tampering returns a WebSocket class whose send passes each outgoing
// message through rewrite (returning an array of frames to send instead)
// and, when protocol is set, which offers that subprotocol instead of the
// client's.
function tampering(rewrite, protocol) {
  return class extends WebSocket {
    constructor(address, protocols) {
      super(address, protocol ?? protocols);
    }
    send(data) {
      for (const frame of rewrite(JSON.parse(data), data)) super.send(frame);
    }
  };
}

// run subscribes once per query on one client and collects what the sinks
// and the socket say, until every subscription ended or the socket closed.
async function run(name, { queries, connectionParams, webSocketImpl, unsubscribeAfterMs, clientOptions }) {
  const line = { name, events: [], outcome: 'pending' };
  let closed;
  const client = createClient({
    url,
    webSocketImpl: webSocketImpl ?? WebSocket,
    retryAttempts: 0,
    connectionParams,
    on: {
      closed: (event) => {
        closed = event;
      },
    },
    ...clientOptions,
  });
  const runs = queries.map(
    (query) =>
      new Promise((resolve) => {
        const unsubscribe = client.subscribe(
          { query },
          {
            next: (value) => line.events.push(value),
            error: (err) => {
              if (Array.isArray(err)) {
                line.outcome = 'error';
                line.errors = err;
              } else if (err && typeof err.code === 'number') {
                line.outcome = 'closed';
                line.code = err.code;
                line.reason = err.reason;
              } else {
                line.outcome = 'failed';
                line.reason = String(err && err.message ? err.message : err);
              }
              resolve();
            },
            complete: () => {
              if (line.outcome === 'pending') line.outcome = 'complete';
              resolve();
            },
          },
        );
        if (unsubscribeAfterMs) {
          setTimeout(() => {
            unsubscribe();
            line.outcome = 'unsubscribed';
            resolve();
          }, unsubscribeAfterMs);
        }
      }),
  );
  const timeout = new Promise((resolve) =>
    setTimeout(() => {
      line.outcome = line.outcome === 'pending' ? 'timeout' : line.outcome;
      resolve();
    }, 10000),
  );
  await Promise.race([Promise.all(runs), timeout]);
  if (closed && line.code === undefined && line.outcome !== 'unsubscribed' && line.outcome !== 'complete') {
    line.code = closed.code;
    line.reason = closed.reason;
  }
  await client.dispose();
  return line;
}

const sam = { Authorization: 'Bearer sams-token' };
const subscribe = (id, query) => JSON.stringify({ id, type: 'subscribe', payload: { query } });

const scenarios = [
  ['subscribe', { queries: ['subscription { ticks(n: 3) }'] }],
  ['query', { queries: ['{ me }'], connectionParams: sam }],
  ['validation error', { queries: ['subscription { nope }'] }],
  ['unsubscribe', { queries: ['subscription { idle }'], unsubscribeAfterMs: 300 }],
  ['4400 bad message', {
    queries: ['{ me }'],
    webSocketImpl: tampering((m, raw) => (m.type === 'connection_init' ? ['not json'] : [raw])),
  }],
  ['4401 subscribe before init', {
    queries: ['{ me }'],
    webSocketImpl: tampering((m, raw) => (m.type === 'connection_init' ? [subscribe('early', '{ me }')] : [raw])),
  }],
  ['4403 forbidden', { queries: ['{ me }'], connectionParams: { Authorization: 'Bearer garbage' } }],
  ['4406 subprotocol', { queries: ['{ me }'], webSocketImpl: tampering((m, raw) => [raw], 'graphql-ws') }],
  ['4408 init timeout', {
    queries: ['{ me }'],
    // The client sends connection_init once its params are ready: later
    // than the server waits.
    connectionParams: () => new Promise((resolve) => setTimeout(() => resolve({}), 1500)),
  }],
  ['4409 subscriber exists', {
    queries: ['subscription { idle }', 'subscription { idle }'],
    webSocketImpl: tampering((m, raw) => (m.type === 'subscribe' ? [JSON.stringify({ ...m, id: 'same' })] : [raw])),
  }],
  ['4429 too many inits', {
    queries: ['{ me }'],
    webSocketImpl: tampering((m, raw) => (m.type === 'connection_init' ? [raw, raw] : [raw])),
  }],
  ['4500 internal error', { queries: ['{ me }'], connectionParams: { Authorization: 'Bearer broken-token' } }],
];

for (const [name, scenario] of scenarios) {
  console.log(JSON.stringify(await run(name, scenario)));
}

// 4029: a second socket of a user allowed one. The first holds a
// subscription until the second was refused.
{
  const ada = { Authorization: 'Bearer adas-token' };
  const first = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: ada });
  const firstUp = new Promise((resolve, reject) => {
    first.on('connected', resolve);
    first.on('closed', reject);
  });
  const stop = first.subscribe({ query: 'subscription { idle }' }, { next() {}, error() {}, complete() {} });
  await firstUp;
  const line = await run('4029 socket limit', { queries: ['{ me }'], connectionParams: ada });
  stop();
  await first.dispose();
  console.log(JSON.stringify(line));
}
