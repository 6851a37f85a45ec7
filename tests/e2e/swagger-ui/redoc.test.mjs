// /redoc in headless Chromium: the page renders the contract (an operation's
// summaries, the title) and asks nothing of any origin but the server's.
// Env: TODO_API_URL; CHROMIUM_PATH (default /usr/bin/chromium); SCREENSHOT.
import { chromium } from 'playwright-core';

const base = (process.env.TODO_API_URL || '').replace(/\/+$/, '');
if (!base) {
  console.error('TODO_API_URL is not set');
  process.exit(2);
}
const origin = new URL(base).origin;
const outside = [];
const failed = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  timeout: 15_000,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
  // Every request leaves through here: one to another origin is recorded and
  // refused, so the page must render without it.
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || url.startsWith('blob:') || new URL(url).origin === origin) {
      return route.continue();
    }
    outside.push(url);
    return route.abort();
  });
  page.on('pageerror', (err) => failed.push(String(err)));
  const response = await page.goto(`${base}/redoc`, { waitUntil: 'load' });
  if (response?.status() !== 200) throw new Error(`GET /redoc answered ${response?.status()}`);
  await page.getByRole('heading', { name: "List the user's tasks" }).first().waitFor();
  await page.getByRole('heading', { name: 'Create a task' }).first().waitFor();
  await page.getByRole('heading', { name: 'Todo API' }).first().waitFor();
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
} finally {
  await browser.close();
}
if (outside.length || failed.length) {
  console.error(`requests outside ${origin}: ${JSON.stringify(outside)}; page errors: ${JSON.stringify(failed)}`);
  process.exit(1);
}
console.log(`redoc: rendered the contract offline (no request outside ${origin})`);
