// Runs graphql-http's server audits (the GraphQL-over-HTTP spec's MUST,
// SHOULD and MAY checks) against the URL given as the only argument and
// prints one JSON line per audit: {"id", "name", "status", "reason"}.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql endpoint URL>');
  process.exit(2);
}

for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
    try {
      line.responseStatus = result.response.status;
      line.responseBody = (await result.response.text()).slice(0, 500);
    } catch {
      // the body was read by the audit already
    }
  }
  console.log(JSON.stringify(line));
}
