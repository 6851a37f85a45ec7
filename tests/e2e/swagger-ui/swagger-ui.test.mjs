// Drives the Swagger UI the server serves at /docs in a real headless Chromium,
// as a person would: the page renders from the server's own assets, lists every
// operation of /openapi.json, takes a bearer token through "Authorize", and
// "Try it out" → "Execute" on list_tasks shows a live 200 with a task made
// beforehand. Exits non-zero naming the step that failed.
//
// Env:
//   TODO_API_URL    base URL of a running server, e.g. http://127.0.0.1:8123 (required)
//   TODO_API_TOKEN  a valid bearer token (required)
//   TODO_API_USER   the user id that token is for: its `sub` (required)
//   SCREENSHOT      PNG path (default: <repo>/target/artifacts/swagger-ui.png)
//   CHROMIUM_PATH   browser binary (default: /usr/bin/chromium, Debian's `chromium`)
//   SWAGGER_UI_AUTH_TOKEN  the token typed into the Authorize dialog; defaults to
//                   TODO_API_TOKEN. Only for proving the test can fail: set it to
//                   a wrong token and step 5 must fail.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 15_000; // every single wait
const WATCHDOG_MS = 120_000; // the whole run, whatever happens

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
];

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

let origin;
try {
  origin = new URL(baseUrl).origin;
} catch {
  console.error(`FAIL setup: TODO_API_URL is not a URL: ${baseUrl}`);
  process.exit(2);
}
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
let browser;
let page;
let createdTaskId;

// Everything the page asked for, in order.
const requests = []; // { url, method, resourceType, status, failure }
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
    return u.origin === origin;
  } catch {
    return false;
  }
}

function describeRequests(list) {
  return list
    .map((r) => {
      const outcome = r.failure ? `FAILED (${r.failure})` : r.status ?? 'no response';
      const url = r.url.startsWith('data:') ? `${r.url.slice(0, 40)}…` : r.url;
      return `${r.method} ${url} [${r.resourceType}] -> ${outcome}`;
    })
    .join('\n');
}

// Requests that went elsewhere than our server, or failed. API calls made by
// "Try it out" are judged by step 5 on their status; here only their host and
// whether they completed at all count.
function badRequests() {
  return requests.filter((r) => {
    if (!isOurs(r.url)) return true;
    if (r.failure) return true;
    const isApiCall = new URL(r.url).pathname.startsWith('/api/');
    return !isApiCall && r.status !== undefined && r.status >= 400;
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

  page.on('request', (req) => {
    const entry = { url: req.url(), method: req.method(), resourceType: req.resourceType() };
    requests.push(entry);
    req.__entry = entry;
  });
  page.on('requestfinished', async (req) => {
    const res = await req.response().catch(() => null);
    if (req.__entry && res) req.__entry.status = res.status();
  });
  page.on('requestfailed', (req) => {
    if (req.__entry) req.__entry.failure = req.failure()?.errorText || 'failed';
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location();
    consoleErrors.push({
      kind: 'console.error',
      text: msg.text(),
      url: loc?.url || '',
      location: loc?.url ? `${loc.url}:${loc.lineNumber}` : '',
    });
  });
  page.on('pageerror', (err) => {
    consoleErrors.push({ kind: 'uncaught exception', text: err.stack || err.message, location: '' });
  });

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

  // 5. Try it out on list_tasks.
  await step(5, `Try it out: GET /api/{user_id}/tasks with user_id=${user}`, async () => {
    const block = page.locator('.opblock').filter({
      has: page.locator('.opblock-summary-method', { hasText: /^GET$/ }),
    }).filter({
      has: page.locator('.opblock-summary-path[data-path="/api/{user_id}/tasks"]'),
    });
    if ((await block.count()) !== 1) fail(`expected one GET /api/{user_id}/tasks block, found ${await block.count()}`);
    await block.locator('.opblock-summary').first().click();
    await block.locator('.opblock-body').waitFor({ state: 'visible' }).catch(() => fail('the operation did not expand'));
    await block.locator('button.try-out__btn').click();
    const field = block.locator('tr[data-param-name="user_id"] input');
    await field.waitFor({ state: 'visible' }).catch(() => fail('no editable user_id field after "Try it out"'));
    await field.fill(user);

    const sent = page.waitForRequest(
      (r) => r.method() === 'GET' && new URL(r.url()).pathname === apiPath,
      { timeout: STEP_TIMEOUT_MS },
    );
    await block.locator('button.execute').click();
    const request = await sent.catch(() => fail(`Swagger UI sent no GET ${apiPath} after "Execute"`));
    const headers = await request.allHeaders();
    const auth = headers.authorization;
    if (!auth) fail(`the request Swagger UI sent (${request.url()}) carried no Authorization header`);
    if (auth !== `Bearer ${uiToken}`) {
      fail(`the request carried Authorization "${auth.slice(0, 20)}…", not "Bearer " + the token`);
    }

    const statusCell = block.locator('.live-responses-table tbody tr.response td.response-col_status');
    await statusCell.waitFor({ state: 'visible' }).catch(() => fail('no live response shown after "Execute"'));
    const status = (await statusCell.innerText()).trim();
    const bodyEl = block.locator('.live-responses-table .response-col_description .highlight-code pre');
    const bodyText = (await bodyEl.count()) ? (await bodyEl.first().innerText()).trim() : '';
    if (!/^200\b/.test(status)) {
      fail(`the live response shows status ${status}, expected 200; body: ${bodyText.slice(0, 400)}`);
    }
    if (!bodyText.includes(title)) {
      fail(`the live 200 response body does not contain the task title "${title}"; body: ${bodyText.slice(0, 400)}`);
    }
    let count = '?';
    try {
      const list = JSON.parse(bodyText);
      count = list.length;
      if (!list.some((t) => t.title === title && t.id === createdTaskId)) {
        fail(`the listed tasks have no task ${createdTaskId} titled "${title}"`);
      }
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err; // not JSON as shown: the includes() check stands
    }
    const requestUrl = (await block.locator('.request-url pre').innerText().catch(() => '')).trim();
    await block.locator('.live-responses-table').scrollIntoViewIfNeeded();
    return [
      `request: GET ${request.url()}  Authorization: Bearer ${uiToken.slice(0, 10)}…`,
      `UI shows Request URL ${requestUrl || '(none)'}, status ${status.split(/\s/)[0]}, ${count} task(s) incl. "${title}"`,
    ].join('\n');
  });

  // 6. Screenshot with the live response on it: the page from its top (title,
  // locked Authorize button) down to the end of the live response table.
  await step(6, 'screenshot with the live response', async () => {
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

  // 7. Over the whole session: nothing failed or went elsewhere, and no console errors.
  await step(7, 'no failed or foreign request and no console error over the whole session', async () => {
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
    return `${requests.length} request(s), all to ${origin}, none failed; console errors: none of ours` +
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
  if (createdTaskId) {
    // Leave the user's list as we found it; a failure here is only reported.
    const res = await api('DELETE', `${apiPath}/${encodeURIComponent(createdTaskId)}`).catch((e) => ({
      status: e.message,
    }));
    if (res.status !== 204 && res.status !== 200) console.log(`note: deleting task ${createdTaskId} answered ${res.status}`);
  }
}

const passed = results.filter((r) => r.ok).length;
const failed = results.filter((r) => !r.ok).length + (exitCode && results.every((r) => r.ok) ? 1 : 0);
const skipped = 7 - passed - failed;
if (!exitCode) console.log(`\nscreenshot: ${screenshotPath}`);
console.log(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`swagger-ui: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(exitCode);
