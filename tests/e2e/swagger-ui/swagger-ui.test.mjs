// Drives the Swagger UI the server serves at /docs in a real headless Chromium,
// as a person would: the page renders from the server's own assets, lists every
// operation of /openapi.json, takes a bearer token through "Authorize", and
// "Try it out" → "Execute" on every operation shows its documented success
// status in the live response (the writes carry the page's own Origin, which
// the server must not refuse), then a 422 with its `errors` for each operation
// that takes a body. The safe writes of contract 1.2 through the same fields a
// person fills in: a deleted task is listed in the trash, restored, deleted and
// purged, the trash emptied; a stale `If-Match` shows a 412 with the current
// `ETag`, the current one a 200; an `Idempotency-Key` sent twice shows the same
// 201 twice, the second marked `idempotent-replayed: true`. The change feed of
// contract 1.3 shows its snapshot and `Link`; the event stream answers 200
// `text/event-stream` (Swagger UI shows a streamed body only once it ends, and
// this one ends when the token expires, so only its status and headers are
// checked there). A weekly task of contract 1.4 is created through the form and
// its occurrences previewed across the DST change. Then live changes in a page of another origin (step 6): a
// tiny page on LIVE_PAGE_ORIGIN, served by the test itself, follows
// /api/{user}/events with `fetch` and the bearer header (what a frontend does:
// EventSource cannot send it) and appends each event to the page; writes made
// from Node show up there live, and after the page stops, writes, and
// subscribes again with `Last-Event-ID`, exactly the missed change arrives,
// then the next live one. The page shows no raw object ("OrderedMap") and no
// raw Markdown in the servers list. Exits non-zero naming the step that failed.
//
// Env:
//   TODO_API_URL    base URL of a running server, e.g. http://127.0.0.1:8123 (required)
//   TODO_API_TOKEN  a valid bearer token (required)
//   TODO_API_USER   the user id that token is for: its `sub` (required)
//   SCREENSHOT      PNG path (default: <repo>/target/artifacts/swagger-ui.png)
//   CHROMIUM_PATH   browser binary (default: /usr/bin/chromium, Debian's `chromium`)
//   SWAGGER_UI_AUTH_TOKEN  the token typed into the Authorize dialog; defaults to
//                   TODO_API_TOKEN. Only for proving the test can fail: set it to
//                   a wrong token and step 5.1 must fail.
//   LIVE_PAGE_ORIGIN  where step 6 serves its page (the test answers it: nothing
//                   listens there); must be in the server's CORS_ORIGINS.
//                   Default http://localhost:3000, the server's default.

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 15_000; // every single wait
const STEPS = 28; // 1-4, 5.1-5.20, 6-9: for the summary line
const WATCHDOG_MS = 180_000; // the whole run, whatever happens

const here = path.dirname(fileURLToPath(import.meta.url));
const started = Date.now();

// Console messages Swagger UI (or Chromium) prints that are not our problem.
// Each entry says why it is tolerated; everything else in the console fails.
const BENIGN_CONSOLE = [
  {
    // Chromium asks every origin for /favicon.ico by itself (the page declares
    // no icon); the server has none and answers 404. Not a Swagger UI asset, and
    // Playwright does not even report the request. Only this exact URL on our
    // origin is tolerated.
    why: "Chromium's automatic /favicon.ico probe (server has no favicon)",
    test: (e) =>
      /^Failed to load resource: .*status of 404/.test(e.text) && e.url === `${origin}/favicon.ico`,
  },
  {
    // Chromium logs every 4xx answer to a fetch. Only the 422s the test asks
    // for (steps 5.6-5.8, invalid bodies) on exactly those URLs are tolerated.
    why: "Chromium's log line for the test's own invalid bodies (expected 422)",
    test: (e) =>
      /^Failed to load resource: .*status of 422/.test(e.text) && deliberate422.has(e.url),
  },
  {
    // The same log line for the one 412 the test provokes (step 5.12: update_task
    // with a stale If-Match, refused as it must be). Only a 412 on exactly that
    // URL is tolerated; any other 412 (a conditional write the test meant to
    // succeed) still fails here, besides failing its own step.
    why: "Chromium's log line for the test's own stale If-Match (expected 412)",
    test: (e) =>
      /^Failed to load resource: .*status of 412/.test(e.text) && deliberate412.has(e.url),
  },
];
// The page of step 6, as small as a frontend's code for it can be: it fetches
// the event stream with the bearer header, reads it chunk by chunk, splits it
// into events (id:, event:, data:; `:` lines are comments) and appends each to
// the list. `subscribe` answers once the response is in (or the fetch failed).
const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>todo-api: live changes</title><link rel="icon" href="data:,"></head>
<body>
<h1>Live changes</h1>
<p>Stream: <span id="state">not subscribed</span></p>
<ol id="events"></ol>
<script>
let controller;
const state = document.getElementById('state');
const list = document.getElementById('events');
function show(event) {
  const li = document.createElement('li');
  li.dataset.id = event.id;
  li.dataset.type = event.event;
  li.textContent = event.data;
  list.append(li);
}
async function read(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = {};
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return 'ended';
    buffer += value;
    const lines = buffer.split('\\n');
    buffer = lines.pop();
    for (const raw of lines) {
      const line = raw.endsWith('\\r') ? raw.slice(0, -1) : raw;
      if (line === '') {
        if (event.data !== undefined) show(event);
        event = {};
      } else if (!line.startsWith(':')) {
        const at = line.indexOf(':');
        const field = at < 0 ? line : line.slice(0, at);
        const text = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
        if (field === 'data') event.data = event.data === undefined ? text : event.data + '\\n' + text;
        else if (field === 'id' || field === 'event') event[field] = text;
      }
    }
  }
}
window.subscribe = async (api, user, token, lastEventId) => {
  controller = new AbortController();
  const headers = { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  let response;
  try {
    response = await fetch(api + '/api/' + encodeURIComponent(user) + '/events', {
      headers, signal: controller.signal, cache: 'no-store',
    });
  } catch (err) {
    return (state.textContent = 'failed: ' + err.message);
  }
  state.textContent = 'open ' + response.status + ' ' + response.headers.get('content-type');
  if (response.ok) {
    const signal = controller.signal;
    read(response.body).then(
      (end) => (state.textContent = end),
      (err) => (state.textContent = signal.aborted ? 'closed' : 'broken: ' + err.message),
    );
  }
  return state.textContent;
};
window.unsubscribe = async () => {
  controller.abort();
  for (let i = 0; i < 100 && state.textContent !== 'closed'; i++) await new Promise((r) => setTimeout(r, 20));
  return state.textContent;
};
</script>
</body>
</html>
`;

// URLs the test sends an invalid body to on purpose.
const deliberate422 = new Set();
// URLs the test sends a stale If-Match to on purpose.
const deliberate412 = new Set();

function fail(message) {
  throw new Error(message);
}

function env(name) {
  const value = process.env[name];
  if (!value || !value.trim()) {
    console.error(
      `FAIL setup: environment variable ${name} is missing.\n` +
        '  Needs TODO_API_URL (e.g. http://127.0.0.1:8123), TODO_API_TOKEN (a valid bearer\n' +
        '  token) and TODO_API_USER (its subject). Optional: SCREENSHOT, CHROMIUM_PATH.',
    );
    process.exit(2);
  }
  return value.trim();
}

const baseUrl = env('TODO_API_URL').replace(/\/+$/, '');
const token = env('TODO_API_TOKEN');
const user = env('TODO_API_USER');
const uiToken = process.env.SWAGGER_UI_AUTH_TOKEN?.trim() || token;
const screenshotPath = path.resolve(
  process.env.SCREENSHOT || path.join(here, '../../../target/artifacts/swagger-ui.png'),
);
const failureShotPath = screenshotPath.replace(/(\.png)?$/i, '-failure.png');
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const liveShotPath = screenshotPath.replace(/(\.png)?$/i, '-live.png');

let origin;
try {
  origin = new URL(baseUrl).origin;
} catch {
  console.error(`FAIL setup: TODO_API_URL is not a URL: ${baseUrl}`);
  process.exit(2);
}
let liveOrigin;
try {
  liveOrigin = new URL(process.env.LIVE_PAGE_ORIGIN?.trim() || 'http://localhost:3000').origin;
} catch {
  console.error(`FAIL setup: LIVE_PAGE_ORIGIN is not an origin: ${process.env.LIVE_PAGE_ORIGIN}`);
  process.exit(2);
}
if (liveOrigin === origin) {
  console.error(`FAIL setup: LIVE_PAGE_ORIGIN must be another origin than the server's (${origin})`);
  process.exit(2);
}
// The page of step 6, on another origin than the API.
const liveUrl = `${liveOrigin}/todo-api-live.html`;
if (!existsSync(executablePath)) {
  console.error(
    `FAIL setup: no browser at ${executablePath}. Install Debian's chromium ` +
      '(apt-get install -y chromium) or set CHROMIUM_PATH.',
  );
  process.exit(2);
}

const watchdog = setTimeout(() => {
  // Playwright kills the browsers it launched when the process exits.
  console.error(`FAIL watchdog: the whole run took over ${WATCHDOG_MS / 1000} s`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

const apiPath = `/api/${encodeURIComponent(user)}/tasks`;
const title = `swagger-ui e2e ${new Date().toISOString()} ${Math.random().toString(36).slice(2, 8)}`;

const results = []; // { n, name, ok, detail }
let specOps = []; // { method, path, operationId, tags } of /openapi.json
const tried = new Set(); // "METHOD path" of each operation that gave its success status
let browser;
let page;
let createdTaskId;
let triedId; // the task made through the UI, until purged there
let replayedId; // the task made twice with one Idempotency-Key, until purged
let liveId; // the task step 6 writes, until purged
let livePage; // the page of step 6

// Everything the pages asked for, in order.
const requests = []; // { url, method, resourceType, status, failure, page, aborted }
const consoleErrors = []; // { kind, text, location }

async function step(n, name, fn) {
  const t0 = Date.now();
  process.stdout.write(`step ${n}: ${name} ... `);
  try {
    const detail = await fn();
    const ms = Date.now() - t0;
    console.log(`ok (${ms} ms)`);
    if (detail) console.log(indent(detail));
    results.push({ n, name, ok: true });
  } catch (err) {
    console.log('FAILED');
    results.push({ n, name, ok: false });
    const e = new Error(`step ${n} (${name}) failed: ${err.message}`);
    e.step = n;
    throw e;
  }
}

function indent(text) {
  return String(text)
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

async function api(method, urlPath, body) {
  const res = await fetch(`${baseUrl}${urlPath}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, text };
}

function isOurs(url) {
  try {
    const u = new URL(url);
    // data: and blob: URLs are made inside the page, not fetched from a host.
    if (u.protocol === 'data:' || u.protocol === 'blob:') return true;
    // The page step 6 serves itself, on its own origin.
    return u.origin === origin || u.href === liveUrl;
  } catch {
    return false;
  }
}

function describeRequests(list) {
  return list
    .map((r) => {
      const outcome = r.failure ? `FAILED (${r.failure})` : r.status ?? 'no response';
      const url = r.url.startsWith('data:') ? `${r.url.slice(0, 40)}…` : r.url;
      return `${r.page}: ${r.method} ${url} [${r.resourceType}] -> ${outcome}${r.aborted ? ' (aborted on purpose)' : ''}`;
    })
    .join('\n');
}

// Requests that went elsewhere than our server, or failed. API calls made by
// "Try it out" are judged by step 5 on their status; here only their host and
// whether they completed at all count. An event stream the test stopped itself
// (step 6) fails as aborted, as it must.
function badRequests() {
  return requests.filter((r) => {
    if (!isOurs(r.url)) return true;
    if (r.failure) return !(r.aborted && r.failure === 'net::ERR_ABORTED');
    const isApiCall = new URL(r.url).pathname.startsWith('/api/');
    return !isApiCall && r.status !== undefined && r.status >= 400;
  });
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch {
    return fail(`${what} as shown is not JSON: ${text.slice(0, 400)}`);
  }
}

// The operation block of `method` `template` (as the spec writes the path).
async function operationBlock(method, template) {
  const block = page
    .locator('.opblock')
    .filter({ has: page.locator('.opblock-summary-method', { hasText: new RegExp(`^${method}$`) }) })
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${template}"]`) });
  const count = await block.count();
  if (count !== 1) fail(`expected one ${method} ${template} block, found ${count}`);
  return block;
}

// The response headers the live response shows ("Response headers", one
// `name: value` line each; fetch gives the names in lower case).
async function shownHeaders(block) {
  const lines = await block
    .locator('.live-responses-table .response-col_description div', {
      has: page.locator('h5', { hasText: /^Response headers$/ }),
    })
    .locator('.headerline')
    .allInnerTexts();
  const headers = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return headers;
}

// "Try it out" → fill `params`, the `headers` and the JSON `body` → "Execute"
// on one operation; fails unless the live response shows status `expected`.
// Returns the status shown, the body shown, the response headers shown and
// the request sent. With `stream`, for an event stream, which Swagger UI shows
// only once it has ended: the status and headers are read off the response as
// the browser received it, and the body is left running.
async function tryItOut(method, template, params, body, expected, headers = {}, { stream = false } = {}) {
  const block = await operationBlock(method, template);
  if (!(await block.evaluate((el) => el.classList.contains('is-open')))) {
    await block.locator('.opblock-summary').first().click();
  }
  await block.locator('.opblock-body').waitFor({ state: 'visible' }).catch(() => fail('the operation did not expand'));
  // Once pressed, the button turns into "Cancel" (class `cancel`), and a
  // "Reset" button (same class, and `reset`) may join it.
  const tryOut = block.locator('button.try-out__btn:not(.reset)');
  if (!(await tryOut.evaluate((el) => el.classList.contains('cancel')))) await tryOut.click();
  for (const [name, value] of Object.entries(params)) {
    if (!template.includes(`{${name}}`)) continue;
    const field = block.locator(`tr[data-param-name="${name}"] input`);
    await field.waitFor({ state: 'visible' }).catch(() => fail(`no editable ${name} field after "Try it out"`));
    await field.fill(String(value));
  }
  // Header parameters (If-Match, If-None-Match, Idempotency-Key) are text
  // fields in the same table, named by the header. Each is set to what
  // `headers` says and emptied otherwise: Swagger UI keeps what was typed into
  // an operation for its next run, and an old key or ETag must not go along.
  const wanted = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const headerNames = await block
    .locator('tr[data-param-in="header"]')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-param-name')));
  const missingField = Object.keys(wanted).filter((k) => !headerNames.some((n) => n.toLowerCase() === k));
  if (missingField.length) {
    fail(`no ${missingField.join(', ')} header field; the operation's header fields: ${headerNames.join(', ') || 'none'}`);
  }
  for (const name of headerNames) {
    const field = block.locator(`tr[data-param-in="header"][data-param-name="${name}"] input`);
    await field.waitFor({ state: 'visible' }).catch(() => fail(`no editable ${name} header field after "Try it out"`));
    const value = wanted[name.toLowerCase()] ?? '';
    if ((await field.inputValue()) !== value) await field.fill(value);
  }
  if (body !== undefined) {
    const editor = block.locator('textarea.body-param__text');
    await editor.waitFor({ state: 'visible' }).catch(() => fail('no editable request body after "Try it out"'));
    await editor.fill(JSON.stringify(body, null, 2));
  }
  // Clear the previous run's response, so the one read below is this run's.
  const clear = block.locator('button.btn-clear');
  if (await clear.count()) {
    await clear.click();
    await block
      .locator('.live-responses-table')
      .waitFor({ state: 'detached' })
      .catch(() => fail('"Clear" left the previous response on the page'));
  }

  const urlPath = template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]));
  const url = `${baseUrl}${urlPath}`;
  if (expected === 422) deliberate422.add(url);
  if (expected === 412) deliberate412.add(url);
  const sent = page.waitForRequest((r) => r.method() === method && new URL(r.url()).pathname === urlPath, {
    timeout: STEP_TIMEOUT_MS,
  });
  await block.locator('button.execute').click();
  const request = await sent.catch(() => fail(`Swagger UI sent no ${method} ${urlPath} after "Execute"`));
  const sentHeaders = await request.allHeaders();
  if (urlPath.startsWith('/api/')) {
    const auth = sentHeaders.authorization;
    if (!auth) fail(`the request Swagger UI sent (${request.url()}) carried no Authorization header`);
    if (auth !== `Bearer ${uiToken}`) {
      fail(`the request carried Authorization "${auth.slice(0, 20)}…", not "Bearer " + the token`);
    }
  }
  // What made the server refuse Swagger UI's writes: the browser names the
  // page's origin on every request that is not a GET or HEAD.
  if (method !== 'GET' && sentHeaders.origin !== origin) {
    fail(`the ${method} carried Origin ${JSON.stringify(sentHeaders.origin)}, expected the page's ${origin}`);
  }
  // The header fields went out as filled in, and an emptied one not at all
  // (not even empty). A GET's If-None-Match is left out of the second check:
  // Chromium's own cache may add one to revalidate what it holds.
  for (const name of headerNames) {
    const key = name.toLowerCase();
    if (key in wanted) {
      if (sentHeaders[key] !== wanted[key]) {
        fail(`the request carried ${name}: ${JSON.stringify(sentHeaders[key])}, not the ${JSON.stringify(wanted[key])} filled in`);
      }
    } else if (key in sentHeaders && !(method === 'GET' && key === 'if-none-match')) {
      fail(`the request carried ${name}: ${JSON.stringify(sentHeaders[key])}, though its field was left empty`);
    }
  }

  if (stream) {
    const response = await request.response();
    if (!response) fail(`${method} ${urlPath}: no response (${request.failure()?.errorText ?? 'none received'})`);
    if (response.status() !== expected) fail(`${method} ${urlPath}: the response is ${response.status()}, expected ${expected}`);
    if (expected < 300) tried.add(`${method} ${template}`);
    return { status: String(response.status()), body: '', headers: await response.allHeaders(), request };
  }

  const statusCell = block.locator('.live-responses-table tbody tr.response td.response-col_status');
  await statusCell.waitFor({ state: 'visible' }).catch(() => fail('no live response shown after "Execute"'));
  const status = (await statusCell.innerText()).trim().split(/\s/)[0];
  const bodyEl = block.locator('.live-responses-table .response-col_description .highlight-code pre');
  const shown = (await bodyEl.count()) ? (await bodyEl.first().innerText()).trim() : '';
  if (status !== String(expected)) {
    const error = (await block.locator('.live-responses-table .response-col_description').innerText().catch(() => ''))
      .replace(/\s+/g, ' ')
      .slice(0, 400);
    fail(`${method} ${urlPath}: the live response shows status ${status}, expected ${expected}; shown: ${error}`);
  }
  if (expected < 300) tried.add(`${method} ${template}`);
  return { status, body: shown, headers: await shownHeaders(block), request };
}

// Records what `p` asks for and what its console says, for the checks of
// steps 2 and 9.
function observe(p, name) {
  p.on('request', (req) => {
    const entry = { url: req.url(), method: req.method(), resourceType: req.resourceType(), page: name };
    requests.push(entry);
    req.__entry = entry;
  });
  p.on('requestfinished', async (req) => {
    const res = await req.response().catch(() => null);
    if (req.__entry && res) req.__entry.status = res.status();
  });
  p.on('requestfailed', (req) => {
    if (req.__entry) req.__entry.failure = req.failure()?.errorText || 'failed';
  });
  p.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location();
    consoleErrors.push({
      kind: 'console.error',
      text: msg.text(),
      url: loc?.url || '',
      location: loc?.url ? `${loc.url}:${loc.lineNumber}` : '',
    });
  });
  p.on('pageerror', (err) => {
    consoleErrors.push({ kind: 'uncaught exception', text: err.stack || err.message, location: '' });
  });
}

async function main() {
  console.log(`Swagger UI e2e against ${baseUrl} as user "${user}"`);

  // 1. A recognisable task for the listing, made without the browser.
  await step(1, `create a task through POST ${apiPath}`, async () => {
    let res;
    try {
      res = await api('POST', apiPath, { title });
    } catch (err) {
      fail(`could not reach ${baseUrl}: ${err.cause?.message || err.message}`);
    }
    if (res.status !== 201) {
      fail(`expected 201, got ${res.status}: ${res.text.slice(0, 500)}`);
    }
    const task = JSON.parse(res.text);
    if (task.title !== title) fail(`created task has title ${JSON.stringify(task.title)}`);
    createdTaskId = task.id;
    return `task ${task.id}: "${title}"`;
  });

  // 2. The page renders, from our server alone.
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: STEP_TIMEOUT_MS,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);

  observe(page, 'docs');

  await step(2, `open ${baseUrl}/docs and wait for Swagger UI to render`, async () => {
    const res = await page.goto(`${baseUrl}/docs`, { waitUntil: 'load' });
    if (!res) fail('navigation produced no response');
    if (res.status() !== 200) fail(`GET /docs answered ${res.status()}`);
    await page
      .locator('#ui .swagger-ui .information-container .info .title')
      .waitFor({ state: 'visible' })
      .catch(() => fail('Swagger UI did not render its info block (no .info .title) in time'));
    await page
      .locator('.swagger-ui .opblock')
      .first()
      .waitFor({ state: 'visible' })
      .catch(() => fail('Swagger UI rendered no operation (.opblock) in time'));
    // Let any late asset requests (fonts, images) start and settle.
    await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});

    const bad = badRequests();
    const made = `requests made by the page:\n${indent(describeRequests(requests))}`;
    if (bad.length) {
      fail(
        `${bad.length} request(s) failed or went to a host other than ${origin}:\n` +
          indent(describeRequests(bad)),
      );
    }
    const info = await page.evaluate(() => {
      const q = (s) => document.querySelector(s);
      return {
        title: q('.info .title')?.childNodes[0]?.textContent?.trim(),
        version: q('.info .title .version')?.textContent?.trim(),
        description: q('.info .description')?.innerText?.trim(),
        tags: [...document.querySelectorAll('.opblock-tag-section .opblock-tag')].map((t) =>
          t.innerText.replace(/\s+/g, ' ').trim(),
        ),
      };
    });
    return [
      made,
      `title: ${info.title}  version: ${info.version}`,
      `description: ${info.description?.slice(0, 120)}…`,
      `tags: ${info.tags.join(' | ')}`,
    ].join('\n');
  });

  // 3. Every operation of the spec is in the UI.
  await step(3, 'every operation in /openapi.json is listed in the UI', async () => {
    const res = await fetch(`${baseUrl}/openapi.json`, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
    if (res.status !== 200) fail(`GET /openapi.json answered ${res.status}`);
    const spec = await res.json();
    const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
    const ops = [];
    for (const [p, item] of Object.entries(spec.paths || {})) {
      for (const m of methods) {
        if (!item[m]) continue;
        const o = item[m];
        const tags = o.tags?.length ? o.tags : ['default'];
        ops.push({ method: m.toUpperCase(), path: p, operationId: o.operationId, tags });
      }
    }
    if (!ops.length) fail('/openapi.json has no operations');
    specOps = ops;

    const shown = await page.$$eval('.swagger-ui .opblock', (els) =>
      els.map((el) => ({
        id: el.id,
        method: el.querySelector('.opblock-summary-method')?.textContent?.trim().toUpperCase(),
        path: el.querySelector('.opblock-summary-path')?.getAttribute('data-path'),
        summary: el.querySelector('.opblock-summary-description')?.textContent?.trim(),
      })),
    );
    const missing = [];
    const lines = [];
    for (const op of ops) {
      for (const tag of op.tags) {
        // Swagger UI (deepLinking) ids: operations-<tag, spaces as _>-<operationId>.
        const id = `operations-${tag.replace(/\s/g, '_')}-${op.operationId}`;
        const el = shown.find((s) => s.id === id);
        const label = `${op.method} ${op.path} (${op.operationId}, tag ${tag})`;
        if (!el) missing.push(`${label}: no element #${id}`);
        else if (el.method !== op.method || el.path !== op.path)
          missing.push(`${label}: #${id} shows ${el.method} ${el.path}`);
        else lines.push(`${op.method.padEnd(6)} ${op.path.padEnd(34)} #${id}  "${el.summary ?? ''}"`);
      }
    }
    if (missing.length) {
      fail(`${missing.length} operation(s) not listed in the UI:\n${indent(missing.join('\n'))}`);
    }
    const expected = ops.reduce((n, o) => n + o.tags.length, 0);
    const extra = shown.length !== expected ? `\nnote: the UI shows ${shown.length} opblocks, spec has ${expected}` : '';
    return `${ops.length} operations, all listed:\n${lines.join('\n')}${extra}`;
  });

  // 4. Authorize with the bearer token.
  await step(4, 'Authorize with the bearer token', async () => {
    await page.locator('.auth-wrapper button.btn.authorize').click();
    const modal = page.locator('.dialog-ux .modal-ux');
    await modal.waitFor({ state: 'visible' }).catch(() => fail('the Authorize dialog did not open'));
    const input = modal.locator('input#auth-bearer-value');
    await input.waitFor({ state: 'visible' }).catch(() => fail('no bearer field (#auth-bearer-value) in the dialog'));
    await input.fill(uiToken);
    await modal.locator('button.btn.modal-btn.auth.authorize').click();
    await modal
      .locator('h6', { hasText: 'Authorized' })
      .waitFor({ state: 'visible' })
      .catch(() => fail('the dialog never said "Authorized" after applying the token'));
    await modal.locator('button.btn.modal-btn.auth.btn-done').click();
    await modal.waitFor({ state: 'hidden' }).catch(() => fail('the Authorize dialog did not close'));
    await page
      .locator('.auth-wrapper button.btn.authorize.locked')
      .waitFor({ state: 'visible' })
      .catch(() => fail('the Authorize button does not show the locked (authorized) state'));
    return 'dialog: bearerAuth (http, Bearer) authorized; Authorize button now locked';
  });

  // 5. Try it out on every operation, in the order a person would: list,
  // create, get, update, complete; a validation error from each operation
  // that takes a body; delete, the trash (list, restore, purge, empty) and the
  // conditional and idempotent writes; the probes. Each must show its
  // documented status in the rendered live response. Writes carry the page's
  // own Origin, as the browser sends it: the server must not refuse them.
  const taskPath = '/api/{user_id}/tasks/{id}';
  await step('5.1', `Try it out: list_tasks (GET /api/{user_id}/tasks) with user_id=${user}`, async () => {
    const { status, body, request } = await tryItOut('GET', '/api/{user_id}/tasks', { user_id: user }, undefined, 200);
    if (!body.includes(title)) {
      fail(`the live 200 response body does not contain the task title "${title}"; body: ${body.slice(0, 400)}`);
    }
    const list = parseJson(body, 'the listing');
    if (!Array.isArray(list) || !list.some((t) => t.title === title && t.id === createdTaskId)) {
      fail(`the listed tasks have no task ${createdTaskId} titled "${title}"`);
    }
    return `request: GET ${request.url()}\nUI shows status ${status}, ${list.length} task(s) incl. "${title}"`;
  });

  const uiTitle = `${title} (made in Swagger UI)`;
  await step('5.2', 'Try it out: create_task (POST /api/{user_id}/tasks)', async () => {
    const { status, body } = await tryItOut(
      'POST', '/api/{user_id}/tasks', { user_id: user }, { title: uiTitle, description: 'from Try it out' }, 201,
    );
    const task = parseJson(body, 'the created task');
    if (task.title !== uiTitle || task.completed !== false) fail(`unexpected task: ${body.slice(0, 400)}`);
    triedId = task.id;
    return `UI shows status ${status}, task ${task.id}`;
  });

  await step('5.3', 'Try it out: get_task (GET /api/{user_id}/tasks/{id})', async () => {
    const { status, body } = await tryItOut('GET', taskPath, { user_id: user, id: triedId }, undefined, 200);
    const task = parseJson(body, 'the task');
    if (task.id !== triedId || task.title !== uiTitle) fail(`not task ${triedId}: ${body.slice(0, 400)}`);
    return `UI shows status ${status}, task ${task.id}`;
  });

  await step('5.4', 'Try it out: update_task (PUT /api/{user_id}/tasks/{id})', async () => {
    const { status, body } = await tryItOut(
      'PUT', taskPath, { user_id: user, id: triedId }, { title: `${uiTitle}, renamed` }, 200,
    );
    const task = parseJson(body, 'the updated task');
    if (task.title !== `${uiTitle}, renamed`) fail(`the title did not change: ${body.slice(0, 400)}`);
    return `UI shows status ${status}, title now "${task.title}"`;
  });

  await step('5.5', 'Try it out: complete_task (PATCH /api/{user_id}/tasks/{id}/complete)', async () => {
    const { status, body } = await tryItOut(
      'PATCH', `${taskPath}/complete`, { user_id: user, id: triedId }, { completed: true }, 200,
    );
    const task = parseJson(body, 'the completed task');
    if (task.completed !== true) fail(`the task is not completed: ${body.slice(0, 400)}`);
    return `UI shows status ${status}, completed: true`;
  });

  // The validation errors come before delete_task, on the task still there.
  const invalid = [
    ['5.6', 'create_task', 'POST', '/api/{user_id}/tasks', { title: '   ' }, ['title']],
    ['5.7', 'update_task', 'PUT', taskPath, { title: '', completed: 'yes' }, ['title', 'completed']],
    ['5.8', 'complete_task', 'PATCH', `${taskPath}/complete`, { completed: 'yes' }, ['completed']],
  ];
  for (const [n, id, method, template, payload, fields] of invalid) {
    await step(n, `Try it out: ${id} with an invalid body shows a 422 and its errors`, async () => {
      const { status, body } = await tryItOut(method, template, { user_id: user, id: triedId }, payload, 422);
      const problem = parseJson(body, 'the 422 problem');
      const named = (problem.errors || []).map((e) => e.field);
      if (!Array.isArray(problem.errors) || fields.some((f) => !named.includes(f))) {
        fail(`the rendered 422 does not list errors for ${fields.join(', ')}: ${body.slice(0, 400)}`);
      }
      return `UI shows status ${status}; errors: ${problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`;
    });
  }

  const trashPath = `/api/${encodeURIComponent(user)}/trash`;
  let trashedEtag; // the ETag the DELETE of step 5.9 answered with
  await step('5.9', 'Try it out: delete_task (DELETE /api/{user_id}/tasks/{id}) moves the task to the trash', async () => {
    const { status, headers } = await tryItOut('DELETE', taskPath, { user_id: user, id: triedId }, undefined, 204);
    if (!/^"\d+"$/.test(headers.etag ?? '')) {
      fail(`the 204 shows no ETag "<version>" among its response headers: ${JSON.stringify(headers)}`);
    }
    trashedEtag = headers.etag;
    const res = await api('GET', `${apiPath}/${triedId}`);
    if (res.status !== 404) fail(`the task is still there: GET answers ${res.status}`);
    return `UI shows status ${status}, etag: ${trashedEtag}; the task is gone from the task routes`;
  });

  await step('5.10', 'Try it out: list_trash (GET /api/{user_id}/trash) shows the deleted task', async () => {
    const { status, body } = await tryItOut('GET', '/api/{user_id}/trash', { user_id: user }, undefined, 200);
    const list = parseJson(body, 'the trash');
    const task = Array.isArray(list) ? list.find((t) => t.id === triedId) : undefined;
    if (!task) fail(`the trash shown has no task ${triedId}: ${body.slice(0, 400)}`);
    if (task.title !== `${uiTitle}, renamed`) fail(`the trashed task is not the one deleted: ${JSON.stringify(task)}`);
    if (typeof task.trashed_at !== 'string' || Number.isNaN(Date.parse(task.trashed_at))) {
      fail(`the trashed task shows no trashed_at time: ${JSON.stringify(task)}`);
    }
    return `UI shows status ${status}, ${list.length} trashed task(s) incl. ${task.id}, trashed_at ${task.trashed_at}`;
  });

  let restoredVersion;
  await step('5.11', 'Try it out: restore_task (POST /api/{user_id}/tasks/{id}/restore) with If-Match: the DELETE\'s ETag', async () => {
    const { status, body, headers } = await tryItOut(
      'POST', `${taskPath}/restore`, { user_id: user, id: triedId }, undefined, 200, { 'If-Match': trashedEtag },
    );
    const task = parseJson(body, 'the restored task');
    if (task.id !== triedId || task.title !== `${uiTitle}, renamed` || task.completed !== true) {
      fail(`not the task as it was deleted: ${body.slice(0, 400)}`);
    }
    if (task.trashed_at != null) fail(`the restored task still shows trashed_at: ${body.slice(0, 400)}`);
    if (headers.etag !== `"${task.version}"`) {
      fail(`the 200 shows etag ${JSON.stringify(headers.etag)}, not the task's version "${task.version}"`);
    }
    if (!(task.version > Number(trashedEtag.slice(1, -1)))) {
      fail(`the restore did not move the version past the DELETE's ${trashedEtag}: ${task.version}`);
    }
    const res = await api('GET', `${apiPath}/${triedId}`);
    if (res.status !== 200) fail(`the task is not back: GET answers ${res.status}`);
    restoredVersion = task.version;
    return `request: If-Match: ${trashedEtag}\nUI shows status ${status}, task ${task.id} back at version ${task.version} (etag: ${headers.etag})`;
  });

  // A conditional write: first from a copy long gone (version 1, the task has
  // moved on since), then from the ETag the refusal names.
  let currentEtag;
  await step('5.12', 'Try it out: update_task with a stale If-Match ("1") shows a 412, its detail and the current ETag', async () => {
    if (!(restoredVersion > 1)) fail(`the task is at version ${restoredVersion}: "1" would not be stale`);
    const { status, body, headers } = await tryItOut(
      'PUT', taskPath, { user_id: user, id: triedId }, { title: `${uiTitle}, stale` }, 412, { 'If-Match': '"1"' },
    );
    const problem = parseJson(body, 'the 412 problem');
    if (problem.status !== 412 || typeof problem.detail !== 'string' || !problem.detail) {
      fail(`the rendered 412 is not a problem with a detail: ${body.slice(0, 400)}`);
    }
    if (headers.etag !== `"${restoredVersion}"`) {
      fail(`the 412 shows etag ${JSON.stringify(headers.etag)}, not the current "${restoredVersion}"`);
    }
    const res = await api('GET', `${apiPath}/${triedId}`);
    if (parseJson(res.text, 'the task').title !== `${uiTitle}, renamed`) fail(`the refused write changed the task: ${res.text}`);
    currentEtag = headers.etag;
    return `UI shows status ${status}, etag: ${headers.etag}; detail: ${problem.detail}`;
  });

  await step('5.13', 'Try it out: update_task with the current ETag in If-Match shows 200', async () => {
    const { status, body, headers } = await tryItOut(
      'PUT', taskPath, { user_id: user, id: triedId }, { title: `${uiTitle}, renamed again` }, 200, { 'If-Match': currentEtag },
    );
    const task = parseJson(body, 'the updated task');
    if (task.title !== `${uiTitle}, renamed again`) fail(`the title did not change: ${body.slice(0, 400)}`);
    // `version` is the user's change number: it grows, not necessarily by one.
    if (!(task.version > restoredVersion) || headers.etag !== `"${task.version}"`) {
      fail(`expected a version past ${restoredVersion} and its etag; shows version ${task.version}, etag ${headers.etag}`);
    }
    return `request: If-Match: ${currentEtag}\nUI shows status ${status}, title now "${task.title}", etag: ${headers.etag}`;
  });

  await step('5.14', 'Try it out: delete_task again, then purge_task (DELETE /api/{user_id}/trash/{id})', async () => {
    const deleted = await tryItOut('DELETE', taskPath, { user_id: user, id: triedId }, undefined, 204);
    const purged = await tryItOut('DELETE', '/api/{user_id}/trash/{id}', { user_id: user, id: triedId }, undefined, 204);
    const res = await api('GET', trashPath);
    if (res.status !== 200) fail(`GET ${trashPath} answers ${res.status}`);
    if (parseJson(res.text, 'the trash').some((t) => t.id === triedId)) fail(`task ${triedId} is still in the trash`);
    const id = triedId;
    triedId = undefined;
    return `delete: UI shows status ${deleted.status}; purge: UI shows status ${purged.status}; task ${id} is gone from the trash`;
  });

  const replayTitle = `${title} (one Idempotency-Key, sent twice)`;
  await step('5.15', 'Try it out: create_task twice with one Idempotency-Key shows 201 twice, the second replayed', async () => {
    const key = `swagger-ui-e2e-${randomUUID()}`;
    const run = () =>
      tryItOut('POST', '/api/{user_id}/tasks', { user_id: user }, { title: replayTitle }, 201, { 'Idempotency-Key': key });
    const first = await run();
    const made = parseJson(first.body, 'the created task');
    replayedId = made.id;
    if (made.title !== replayTitle) fail(`unexpected task: ${first.body.slice(0, 400)}`);
    if ('idempotent-replayed' in first.headers) {
      fail(`the first 201 shows idempotent-replayed: ${first.headers['idempotent-replayed']}`);
    }
    const second = await run();
    const again = parseJson(second.body, 'the replayed task');
    if (again.id !== made.id) fail(`the second 201 shows task ${again.id}, the first made ${made.id}`);
    if (second.headers['idempotent-replayed'] !== 'true') {
      fail(`the second 201 does not show idempotent-replayed: true; response headers: ${JSON.stringify(second.headers)}`);
    }
    const res = await api('GET', apiPath);
    const copies = parseJson(res.text, 'the listing').filter((t) => t.title === replayTitle).length;
    if (copies !== 1) fail(`the user has ${copies} tasks titled "${replayTitle}", expected 1`);
    return (
      `request: Idempotency-Key: ${key} (twice)\n` +
      `first: UI shows status ${first.status}, task ${made.id}\n` +
      `second: UI shows status ${second.status}, task ${again.id}, idempotent-replayed: ${second.headers['idempotent-replayed']}`
    );
  });

  await step('5.16', 'Try it out: delete_task, then empty_trash (DELETE /api/{user_id}/trash)', async () => {
    const deleted = await tryItOut('DELETE', taskPath, { user_id: user, id: replayedId }, undefined, 204);
    let res = await api('GET', trashPath);
    if (!parseJson(res.text, 'the trash').some((t) => t.id === replayedId)) fail(`task ${replayedId} is not in the trash`);
    const emptied = await tryItOut('DELETE', '/api/{user_id}/trash', { user_id: user }, undefined, 204);
    res = await api('GET', trashPath);
    if (res.status !== 200 || res.text.trim() !== '[]') fail(`the trash is not empty: ${res.status} ${res.text.slice(0, 400)}`);
    replayedId = undefined;
    return `delete: UI shows status ${deleted.status}; empty: UI shows status ${emptied.status}; the trash is empty`;
  });

  await step('5.17', 'Try it out: list_changes (GET /api/{user_id}/changes) shows a snapshot and its Link to the changes after it', async () => {
    const res = await api('GET', `${apiPath}/${createdTaskId}`);
    if (res.status !== 200) fail(`GET the task of step 1 answers ${res.status}`);
    const task = parseJson(res.text, 'the task of step 1');
    const { status, body, headers } = await tryItOut('GET', '/api/{user_id}/changes', { user_id: user }, undefined, 200);
    const changes = parseJson(body, 'the change feed');
    if (!Array.isArray(changes)) fail(`the change feed is not an array: ${body.slice(0, 400)}`);
    const listed = changes.find((c) => c.task?.id === createdTaskId);
    if (!listed || listed.type !== 'created' || listed.seq !== task.version || listed.task.title !== title) {
      fail(`the snapshot does not list task ${createdTaskId} as created at seq ${task.version}: ${JSON.stringify(listed)}`);
    }
    if (!/^<\/api\/[^>]+\/changes\?since=\d+>; rel="next"$/.test(headers.link ?? '')) {
      fail(`the snapshot shows no Link to the changes after it: ${JSON.stringify(headers.link)}`);
    }
    return `UI shows status ${status}, ${changes.length} change(s) incl. task ${createdTaskId} (seq ${listed.seq}); link: ${headers.link}`;
  });

  await step('5.18', 'Try it out: stream_events (GET /api/{user_id}/events) answers 200 text/event-stream', async () => {
    // The stream goes on (Swagger UI waits for its end, at the token's expiry):
    // its status and headers, as the browser got them, are what can be checked.
    const { status, headers } = await tryItOut('GET', '/api/{user_id}/events', { user_id: user }, undefined, 200, {}, { stream: true });
    if (!/^text\/event-stream/.test(headers['content-type'] ?? '')) {
      fail(`the 200 is ${JSON.stringify(headers['content-type'])}, not text/event-stream`);
    }
    if (!/no-cache/.test(headers['cache-control'] ?? '')) fail(`cache-control is ${JSON.stringify(headers['cache-control'])}`);
    return `status ${status}, content-type: ${headers['content-type']}, cache-control: ${headers['cache-control']} (the stream stays open)`;
  });

  await step('5.19', 'Try it out: a weekly task (create_task with recurrence), then list_occurrences (GET /api/{user_id}/tasks/{id}/occurrences)', async () => {
    const created = await tryItOut(
      'POST', '/api/{user_id}/tasks', { user_id: user },
      {
        title: `${uiTitle}, weekly`,
        due: { datetime: '2027-03-25T09:00', time_zone: 'Europe/Berlin' },
        recurrence: { rrule: 'FREQ=WEEKLY;BYDAY=TH' },
        reminders: [{ before: 'PT15M' }],
      },
      201,
    );
    const task = parseJson(created.body, 'the recurring task');
    if (task.recurrence?.rrule !== 'FREQ=WEEKLY;BYDAY=TH') fail(`no recurrence: ${created.body.slice(0, 400)}`);
    const { status, body } = await tryItOut('GET', `${taskPath}/occurrences`, { user_id: user, id: task.id }, undefined, 200);
    const dues = parseJson(body, 'the occurrences');
    // 25 March is CET (08:00Z); 1 April, after the change, CEST (07:00Z).
    if (dues[0]?.at !== '2027-03-25T08:00:00.000000Z' || dues[1]?.at !== '2027-04-01T07:00:00.000000Z') {
      fail(`unexpected occurrences: ${body.slice(0, 400)}`);
    }
    return `UI shows status ${status}, ${dues.length} occurrences from ${dues[0].datetime} (${dues[0].at}) then ${dues[1].datetime} (${dues[1].at})`;
  });

  await step('5.20', 'Try it out: health (GET /health) and ready (GET /ready)', async () => {
    const lines = [];
    for (const [template, expected] of [['/health', 'healthy'], ['/ready', 'ready']]) {
      const { status, body } = await tryItOut('GET', template, {}, undefined, 200);
      if (parseJson(body, template).status !== expected) fail(`${template} shows ${body.slice(0, 200)}`);
      lines.push(`${template}: UI shows status ${status}, ${body.replace(/\s+/g, ' ')}`);
    }
    return lines.join('\n');
  });

  await step('5.21', 'every operation of /openapi.json was tried and gave its success status', async () => {
    const missing = specOps.filter((op) => !tried.has(`${op.method} ${op.path}`));
    if (missing.length) {
      fail(`not tried: ${missing.map((op) => `${op.method} ${op.path} (${op.operationId})`).join(', ')}`);
    }
    return `${tried.size} of ${specOps.length} operations: ${[...tried].join(', ')}`;
  });

  // 6. Live changes in a frontend's page: on another origin (a Next.js app's),
  // with `fetch` streaming and the bearer header, as the contract says to.
  await step(6, `a page on ${liveOrigin} follows /events with fetch and the bearer header: writes from Node show up live, and it resumes with Last-Event-ID`, async () => {
    // Its own context: the page is answered by the test (route below), so it has
    // no address, and Chromium counts it as public; a public page must be
    // granted Local Network Access to call a loopback API. A frontend served
    // from localhost (a dev server) is loopback itself and needs no grant.
    const liveContext = await browser.newContext({ viewport: { width: 900, height: 600 } });
    await liveContext.grantPermissions(['local-network-access'], { origin: liveOrigin });
    livePage = await liveContext.newPage();
    livePage.setDefaultTimeout(STEP_TIMEOUT_MS);
    observe(livePage, 'live');
    await livePage.route(liveUrl, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: LIVE_PAGE }),
    );
    const res = await livePage.goto(liveUrl, { waitUntil: 'load' });
    if (res?.status() !== 200) fail(`the live page did not load: ${res?.status()}`);
    const eventsUrl = `${baseUrl}/api/${encodeURIComponent(user)}/events`;

    // Subscribes from the page; the request it sent, and what it says after the response.
    const subscribeFromPage = async (lastEventId) => {
      const sent = livePage.waitForRequest((r) => r.url() === eventsUrl && r.method() === 'GET');
      const state = await livePage.evaluate(
        ([api, u, t, id]) => window.subscribe(api, u, t, id),
        [baseUrl, user, token, lastEventId],
      );
      const request = await sent.catch(() => fail('the page sent no request to /events'));
      if (!state.startsWith('open 200 text/event-stream')) {
        fail(`the page could not subscribe: ${state} (a CORS refusal shows as "Failed to fetch")`);
      }
      const sentHeaders = await request.allHeaders();
      if (sentHeaders.authorization !== `Bearer ${token}`) fail('the stream request carried no bearer token');
      if (sentHeaders.origin !== liveOrigin) fail(`the stream request carried Origin ${sentHeaders.origin}, not ${liveOrigin}`);
      if ((sentHeaders['last-event-id'] ?? null) !== (lastEventId ?? null)) {
        fail(`the stream request carried Last-Event-ID ${sentHeaders['last-event-id']}, expected ${lastEventId}`);
      }
      return state;
    };
    const stopInPage = async () => {
      for (const r of requests) if (r.page === 'live' && r.url === eventsUrl) r.aborted = true;
      const state = await livePage.evaluate(() => window.unsubscribe());
      if (state !== 'closed') fail(`the page's stream did not close: ${state}`);
    };
    // The events of task `id` the page shows: [{ id, type, change }].
    const shown = (id) =>
      livePage.evaluate(
        (taskId) =>
          [...document.querySelectorAll('#events li')]
            .map((li) => ({ id: li.dataset.id, type: li.dataset.type, change: JSON.parse(li.textContent) }))
            .filter(({ change }) => (change.task?.id ?? change.task_id) === taskId),
        id,
      );
    const shows = async (id, count, what) => {
      await livePage
        .waitForFunction(
          ([taskId, n]) =>
            [...document.querySelectorAll('#events li')].filter((li) => {
              const c = JSON.parse(li.textContent);
              return (c.task?.id ?? c.task_id) === taskId;
            }).length >= n,
          [id, count],
          { timeout: STEP_TIMEOUT_MS },
        )
        .catch(async () =>
          fail(`the page did not show ${what}; it shows: ${JSON.stringify((await shown(id)).map((e) => `${e.id} ${e.type}`))}; state: ${await livePage.locator('#state').innerText()}`),
        );
    };

    const opened = await subscribeFromPage(undefined);
    const created = await api('POST', apiPath, { title: `${title} (live)` });
    if (created.status !== 201) fail(`POST answered ${created.status}`);
    const task = parseJson(created.text, 'the created task');
    liveId = task.id;
    await shows(liveId, 1, 'the created change');
    const completed = await api('PATCH', `${apiPath}/${liveId}/complete`, { completed: true });
    if (completed.status !== 200) fail(`PATCH answered ${completed.status}`);
    const done = parseJson(completed.text, 'the completed task');
    await shows(liveId, 2, 'the completed change');

    // The page stops; a write meanwhile; it subscribes again after the last id it got.
    await stopInPage();
    const before = await shown(liveId);
    const lastId = before.at(-1).id;
    const trashedRes = await fetch(`${baseUrl}${apiPath}/${liveId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
    });
    if (trashedRes.status !== 204) fail(`DELETE answered ${trashedRes.status}`);
    const trashedVersion = Number((trashedRes.headers.get('etag') ?? '').replaceAll('"', ''));
    const resumed = await subscribeFromPage(lastId);
    await shows(liveId, 3, 'the trashed change, missed while stopped');
    const purged = await api('DELETE', `/api/${encodeURIComponent(user)}/trash/${liveId}`);
    if (purged.status !== 204) fail(`the purge answered ${purged.status}`);
    await shows(liveId, 4, 'the purged change');
    const purgedId = liveId;
    liveId = undefined;

    const events = await shown(purgedId);
    const got = events.map((e) => `${e.id} ${e.type}`);
    const expected = [
      `${task.version} created`,
      `${done.version} completed`,
      `${trashedVersion} trashed`,
    ];
    if (got.length !== 4 || got.slice(0, 3).join() !== expected.join() || events[3].type !== 'purged' || !(Number(events[3].id) > trashedVersion)) {
      fail(`the page shows ${JSON.stringify(got)}, expected ${JSON.stringify(expected)} then a purge`);
    }
    for (const e of events) {
      if (String(e.change.seq) !== e.id || e.change.type !== e.type) fail(`an event's id/type differ from its data: ${JSON.stringify(e)}`);
    }
    if (events[1].change.task.completed !== true || typeof events[2].change.task.trashed_at !== 'string') {
      fail(`the changes do not carry the tasks as written: ${JSON.stringify(events.map((e) => e.change))}`);
    }
    // No event twice in the whole page, across both subscriptions.
    const ids = await livePage.$$eval('#events li', (lis) => lis.map((li) => li.dataset.id));
    if (new Set(ids).size !== ids.length) fail(`the page shows an event twice: ${ids.join(', ')}`);

    mkdirSync(path.dirname(liveShotPath), { recursive: true });
    await livePage.screenshot({ path: liveShotPath, fullPage: true, timeout: STEP_TIMEOUT_MS });
    await stopInPage();
    return (
      `page ${liveUrl} (origin ${await livePage.evaluate(() => location.origin)}), stream at ${eventsUrl}\n` +
      `first subscription: ${opened}\nresumed with Last-Event-ID: ${lastId}: ${resumed}\n` +
      `shown: ${got.join(', ')}\nscreenshot: ${liveShotPath}`
    );
  });

  // 7. Nothing on the page is a raw object or raw Markdown: every schema and
  // example shown (all operations are open now; the Schemas section is opened
  // model by model), and the servers list.
  await step(7, 'the page shows no "OrderedMap" and the servers list no Markdown', async () => {
    const models = page.locator('.swagger-ui section.models');
    if (await models.count()) {
      if (!(await models.evaluate((el) => el.classList.contains('is-open')))) {
        await models.locator('h4').first().click();
      }
      const closed = models.locator('.model-container .model-box-control[aria-expanded="false"]');
      for (let i = await closed.count(); i > 0; i--) await closed.first().click();
    }
    // Every response's "Schema" tab, next to its "Example Value".
    const schemaTabs = page.locator('.opblock.is-open .model-example .tab button', { hasText: 'Schema' });
    const tabs = await schemaTabs.count();
    for (let i = 0; i < tabs; i++) await schemaTabs.nth(i).click();
    const text = await page.evaluate(() => document.body.innerText);
    const raw = ['OrderedMap', 'Immutable.', '[object Object]'].filter((s) => text.includes(s));
    if (raw.length) {
      const at = text.indexOf(raw[0]);
      const context = text.slice(Math.max(0, at - 300), at + 200).replace(/\s+/g, ' ');
      fail(`the page shows ${raw.join(', ')}: …${context}…`);
    }
    const servers = await page.$$eval('.servers select option', (els) => els.map((el) => el.textContent.trim()));
    if (!servers.length) fail('no servers list on the page');
    if (servers.some((s) => s.includes('`'))) fail(`the servers list shows raw Markdown: ${servers.join(' | ')}`);
    return `${tabs} schema tab(s) and the Schemas section open, no raw object shown\nservers: ${servers.join(' | ')}`;
  });

  // 8. Screenshot with the live response on it: the page from its top (title,
  // locked Authorize button) down to the end of the live response table.
  await step(8, 'screenshot with the live response', async () => {
    mkdirSync(path.dirname(screenshotPath), { recursive: true });
    const box = await page.locator('.opblock.is-open .live-responses-table').first().boundingBox();
    if (!box) fail('the live response table is not on the page');
    const { scrollY } = await page.evaluate(() => ({ scrollY: window.scrollY }));
    const bottom = Math.ceil(box.y + scrollY + box.height + 24);
    await page.screenshot({
      path: screenshotPath,
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height: bottom },
      timeout: STEP_TIMEOUT_MS,
    });
    return `${screenshotPath} (1280x${bottom}: top of page to the live response)`;
  });

  // 9. Over the whole session (both pages): nothing failed or went elsewhere,
  // and no console errors.
  await step(9, 'no failed or foreign request and no console error over the whole session', async () => {
    const bad = badRequests();
    const errors = consoleErrors.filter((e) => !BENIGN_CONSOLE.some((b) => b.test(e)));
    const tolerated = consoleErrors.filter((e) => BENIGN_CONSOLE.some((b) => b.test(e)));
    const problems = [];
    if (bad.length) {
      problems.push(`${bad.length} request(s) failed or went to a host other than ${origin}:\n${indent(describeRequests(bad))}`);
    }
    if (errors.length) {
      problems.push(
        `${errors.length} console error(s):\n${indent(errors.map((e) => `${e.kind}: ${e.text} ${e.location}`).join('\n'))}`,
      );
    }
    if (problems.length) fail(problems.join('\n'));
    const toleratedText = tolerated
      .map((e) => `tolerated: ${e.text} ${e.location} (${BENIGN_CONSOLE.find((b) => b.test(e)).why})`)
      .join('\n');
    return `${requests.length} request(s), all to ${origin} (and ${liveUrl}), none failed; console errors: none of ours` +
      (toleratedText ? `\n${toleratedText}` : '');
  });
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  exitCode = 1;
  console.error(`\nFAIL ${err.message}`);
  if (err.step === undefined && err.stack) console.error(err.stack);
  if (consoleErrors.length) {
    console.error(
      `console errors seen in the page:\n${indent(
        consoleErrors
          .map((e) => {
            const benign = BENIGN_CONSOLE.find((b) => b.test(e));
            return `${e.kind}: ${e.text} ${e.location}${benign ? ` (tolerated: ${benign.why})` : ''}`;
          })
          .join('\n'),
      )}`,
    );
  }
  if (requests.length) console.error(`requests made by the page:\n${indent(describeRequests(requests))}`);
  if (page) {
    try {
      mkdirSync(path.dirname(failureShotPath), { recursive: true });
      await page.screenshot({ path: failureShotPath, fullPage: true, timeout: STEP_TIMEOUT_MS });
      console.error(`failure screenshot: ${failureShotPath}`);
    } catch {
      // the page may be gone; the message above is what matters
    }
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  // Leave the user's list and trash as we found them: delete (to the trash),
  // then purge. A task a failed run left in the trash already answers 404 to
  // the delete. A failure here is only reported.
  for (const id of [createdTaskId, triedId, replayedId, liveId]) {
    if (id === undefined) continue;
    const path = encodeURIComponent(id);
    for (const [what, urlPath, ok] of [
      ['deleting', `${apiPath}/${path}`, [204, 404]],
      ['purging', `/api/${encodeURIComponent(user)}/trash/${path}`, [204]],
    ]) {
      const res = await api('DELETE', urlPath).catch((e) => ({ status: e.message }));
      if (!ok.includes(res.status)) console.log(`note: ${what} task ${id} answered ${res.status}`);
    }
  }
}

const passed = results.filter((r) => r.ok).length;
const failed = results.filter((r) => !r.ok).length + (exitCode && results.every((r) => r.ok) ? 1 : 0);
const skipped = STEPS - passed - failed;
if (!exitCode) console.log(`\nscreenshot: ${screenshotPath}`);
console.log(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`swagger-ui: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(exitCode);
