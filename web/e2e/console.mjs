#!/usr/bin/env node
// End-to-end test of the web console against a real `souk serve`.
//   SOUK=/path/to/souk [ARTIFACTS=dir] node e2e/console.mjs
// Builds a small shop in a temp dir (gen, index, train, eval, a bandit campaign, an admin key),
// serves it on a free port and drives Chromium (playwright-core) through the shop front and the
// admin dashboard at the server's own "/". Exit 0 = pass; otherwise a message says what failed.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const SOUK = process.env.SOUK;
const ARTIFACTS = path.resolve(process.env.ARTIFACTS || './e2e-artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const T0 = Date.now();

let server = null;
let context = null;
let tmp = null;

function log(msg) {
  console.log(`[e2e ${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}`);
}
class Fail extends Error {}
function check(cond, msg) {
  if (!cond) throw new Fail(msg);
}

function souk(args, { timeout = 60000 } = {}) {
  try {
    return execFileSync(SOUK, args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Fail(`souk ${args.join(' ')} failed: ${(e.stderr || e.message || '').toString().trim().slice(-800)}`);
  }
}

async function cleanup() {
  if (context) await context.close().catch(() => {});
  context = null;
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await Promise.race([new Promise((r) => server.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
  server = null;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}

function startServer(dir) {
  return new Promise((resolve, reject) => {
    const p = spawn(SOUK, ['serve', dir, '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    server = p;
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Fail(`souk serve printed no URL in 15 s: ${out}${err}`)), 15000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/serving .* on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Fail(`souk serve exited (${code}): ${err.trim().slice(-500)}`));
    });
  });
}

async function http(base, key, method, p, body) {
  const res = await fetch(base + p, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not json */
  }
  if (!res.ok) throw new Fail(`${method} ${p} -> ${res.status}: ${text.slice(0, 300)}`);
  return json;
}

// every non-transparent pixel counts; a rendered chart has thousands
async function chartPixels(page, testid) {
  const sel = `[data-testid="${testid}"] canvas`;
  await page.waitForSelector(`${sel}[data-chart="ready"]`, { timeout: 10000 }).catch(() => {
    throw new Fail(`chart ${testid}: no rendered canvas`);
  });
  return page.$eval(sel, (c) => {
    const ctx = c.getContext('2d');
    const { width, height } = c;
    if (!width || !height) return { width, height, painted: 0 };
    const d = ctx.getImageData(0, 0, width, height).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
    return { width, height, painted };
  });
}

async function main() {
  check(SOUK, 'set SOUK to the souk binary (SOUK=build/souk node e2e/console.mjs)');
  check(fs.existsSync(SOUK), `SOUK=${SOUK} does not exist`);
  check(fs.existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'souk-e2e-'));
  const dir = path.join(tmp, 'shop');

  // ---- data ----------------------------------------------------------------
  log('gen/index/train');
  souk(['gen', dir, '--users', '300', '--items', '200', '--days', '20', '--seed', '7']);
  souk(['index', dir]);
  souk(['train', dir], { timeout: 120000 });
  souk(['train', dir, '--model', 'bpr:f=16,it=5']); // a training run with per-epoch losses (DIR/runs)
  log('eval --all');
  try {
    souk(['eval', dir, '--all'], { timeout: 60000 });
  } catch (e) {
    log(`eval --all failed (${e.message.slice(0, 120)}); falling back to pop + itemknn`);
    souk(['eval', dir, '--model', 'pop', '--model', 'itemknn']);
  }
  souk(['campaign', 'create', dir, 'banner', '--arms', 'a,b,c', '--policy', 'ts', '--seed', '1']);
  const key = JSON.parse(souk(['keys', 'create', dir, '--scope', 'admin', '--json'])).key;
  check(key, 'keys create printed no key');

  // ---- server ----------------------------------------------------------------
  const base = await startServer(dir);
  log(`server at ${base}`);
  const root = await fetch(base + '/');
  const rootText = await root.text();
  check(root.ok && /<div id="app">/.test(rootText), `GET / does not serve the console (status ${root.status}: ${rootText.slice(0, 120)})`);

  log('50 decide + reward');
  const rate = { a: 0.7, b: 0.3, c: 0.1 };
  for (let i = 0; i < 50; i++) {
    const d = await http(base, key, 'POST', '/v1/decide', { campaign: 'banner', user: `U${String((i % 300) + 1).padStart(6, '0')}` });
    const arm = (d.arms || [])[0];
    const value = (i * 7919) % 100 < (rate[arm] ?? 0) * 100 ? 1 : 0;
    await http(base, key, 'POST', '/v1/reward', { decision: d.decision, value });
  }

  // pick a suggestion whose search has several brands (so a facet changes the count)
  let prefix = null;
  let query = null;
  let queryFound = 0;
  for (const p of ['sh', 'ru', 'ch', 'ca', 'ba', 'bo', 'ph', 'sa', 'co', 'ma', 'wa', 'le', 'a', 'b', 'c', 's', 'm', 'p', 't']) {
    const s = await http(base, key, 'GET', `/v1/suggest?q=${encodeURIComponent(p)}&k=8`);
    for (const sug of s.suggestions || []) {
      const r = await http(base, key, 'GET', `/v1/search?q=${encodeURIComponent(sug.text)}&facets=brand&per_page=1`);
      const brands = (r.facets && r.facets.brand) || [];
      if (r.found >= 3 && brands.length >= 2 && brands.some((b) => b.count < r.found)) {
        prefix = p;
        query = sug.text;
        queryFound = r.found;
        break;
      }
    }
    if (query) break;
  }
  check(query, 'no suggestion prefix leads to a search with two or more brands');
  log(`prefix "${prefix}" -> query "${query}" (${queryFound} hits)`);

  // ---- browser -------------------------------------------------------------------
  const profile = path.join(tmp, 'chrome-profile');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(10000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console error: ${m.text()} ${m.location()?.url || ''}`);
  });
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText || ''}`));
  const shot = async (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const noErrors = async (step) => {
    const banner = await page.$$eval('[data-testid="error"]', (els) => els.map((e) => e.textContent));
    check(!banner.length, `${step}: error banner shown: ${banner.join(' | ')}`);
    check(!errors.length, `${step}: ${errors.join('\n')}`);
  };
  const forYouIds = () => page.$eval('[data-testid="for-you"]', (el) => el.dataset.items || '');

  log('open console with #key=');
  await page.goto(`${base}/#key=${encodeURIComponent(key)}`);
  await page.waitForSelector('[data-testid="search-input"]');
  const stored = await page.evaluate(() => localStorage.getItem('souk.key'));
  check(stored === key, 'the #key= fragment was not stored in localStorage souk.key');
  check(!page.url().includes('key='), `the key is still in the address bar: ${page.url()}`);
  await page.waitForSelector('[data-testid="for-you"] [data-testid="for-you-card"]');
  const ids0 = await forYouIds();
  check(ids0.length > 0, 'for-you row is empty');
  await shot('01-home');
  await noErrors('home');

  log('suggestions');
  await page.click('[data-testid="search-input"]');
  await page.keyboard.type(prefix, { delay: 40 });
  await page.waitForSelector('[data-testid="suggestions"] [data-testid="suggestion"]', { state: 'visible' });
  await shot('02-suggestions');
  const sugg = page.locator(`[data-testid="suggestion"][data-text="${query.replace(/"/g, '\\"')}"]`);
  check((await sugg.count()) === 1, `suggestion "${query}" not in the dropdown for "${prefix}"`);
  await sugg.click();

  log('search results');
  await page.waitForFunction((q) => {
    const s = document.querySelector('[data-testid="result-count"]');
    return s && s.dataset.found && new URLSearchParams(location.hash.split('?')[1] || '').get('q') === q;
  }, query);
  const found1 = Number(await page.getAttribute('[data-testid="result-count"]', 'data-found'));
  const cards1 = await page.locator('[data-testid="result-card"]').count();
  check(found1 > 0 && cards1 > 0, `search "${query}": ${found1} found, ${cards1} cards`);
  await shot('03-results');
  await noErrors('search');

  log('facet');
  const facet = await page.$$eval('[data-testid="facet-brand"] input[type=checkbox]', (els, n) => {
    for (const el of els) {
      const count = Number(el.parentElement.querySelector('.muted')?.textContent || 0);
      if (count > 0 && count < n) return { value: el.dataset.value, count };
    }
    return null;
  }, found1);
  check(facet, `no brand facet with fewer than ${found1} items`);
  await page.check(`[data-testid="facet-brand"] input[data-value="${facet.value.replace(/"/g, '\\"')}"]`);
  await page.waitForFunction((n) => {
    const s = document.querySelector('[data-testid="result-count"]');
    return s && s.dataset.found && Number(s.dataset.found) !== n;
  }, found1);
  const found2 = Number(await page.getAttribute('[data-testid="result-count"]', 'data-found'));
  check(found2 === facet.count, `brand facet "${facet.value}" said ${facet.count}, the filtered search found ${found2}`);
  const brands = await page.$$eval('[data-testid="result-card"]', (els) => els.map((e) => e.dataset.brand || ''));
  check(brands.length > 0, 'no cards after applying the facet');
  const wrong = brands.filter((b) => b.toLowerCase() !== facet.value.toLowerCase());
  check(!wrong.length, `cards not of brand "${facet.value}": ${JSON.stringify(wrong)} (do hits carry "brand"?)`);
  await shot('04-facet');
  await noErrors('facet');

  log('product page');
  const cardIds = await page.$$eval('[data-testid="result-card"]', (els) => els.map((e) => e.dataset.itemId));
  let target = cardIds[0];
  for (const id of cardIds) {
    const s = await http(base, key, 'GET', `/v1/similar/${encodeURIComponent(id)}?k=8`);
    if ((s.items || []).length) {
      target = id;
      break;
    }
  }
  await page.click(`[data-testid="result-card"][data-item-id="${target}"]`);
  await page.waitForSelector('[data-testid="item-title"]');
  check(page.url().includes(`#/item/${target}`), `product page URL: ${page.url()}`);
  await page.waitForSelector('[data-testid="similar"] [data-testid="similar-card"]');
  await shot('05-product');
  await noErrors('product page');

  log('clicks change "for you"');
  await page.click('[data-testid="similar"] [data-testid="similar-card"] >> nth=0');
  await page.waitForSelector('[data-testid="item-title"]');
  await page.waitForSelector('[data-testid="for-you"] [data-testid="for-you-card"]');
  await page.click('[data-testid="for-you"] [data-testid="for-you-card"] >> nth=0');
  await page.waitForSelector('[data-testid="add-to-cart"]');
  await page.click('[data-testid="add-to-cart"]');
  await page.click('[data-testid="buy"]');
  try {
    await page.waitForFunction((before) => {
      const el = document.querySelector('[data-testid="for-you"]');
      return el && el.dataset.items && el.dataset.items !== before;
    }, ids0, { timeout: 10000 });
  } catch {
    throw new Fail(`"for you" did not change after clicks, cart and purchase: ${ids0}`);
  }
  const ids1 = await forYouIds();
  log(`for you: ${ids0.split(',').slice(0, 4).join(',')}… -> ${ids1.split(',').slice(0, 4).join(',')}…`);
  await shot('06-for-you-changed');
  await noErrors('events');

  log('admin');
  await page.evaluate(() => (location.hash = '#/admin'));
  await page.waitForSelector('[data-testid="admin-overview"] .stat');
  await page.waitForSelector('[data-testid="quality-table"] [data-testid="quality-row"]');
  const qrows = await page.locator('[data-testid="quality-row"]').count();
  check(qrows > 0, 'quality table has no rows');
  const perDay = await chartPixels(page, 'chart-events-per-day');
  check(perDay.width > 0 && perDay.height > 0 && perDay.painted > 500, `events-per-day chart is blank: ${JSON.stringify(perDay)}`);
  await page.waitForSelector('[data-testid="arms-banner"] [data-testid="arm-row"]');
  const arms = await chartPixels(page, 'chart-arms-banner');
  check(arms.width > 0 && arms.height > 0 && arms.painted > 500, `arms chart is blank: ${JSON.stringify(arms)}`);
  await page.waitForSelector('[data-testid="eval-table"] [data-testid="eval-row"], [data-testid="eval-missing"]');
  const evalRows = await page.locator('[data-testid="eval-row"]').count();
  check(evalRows > 0, `evaluation table empty: ${await page.textContent('[data-testid="admin-eval"]')}`);
  await page.waitForSelector('[data-testid^="chart-training-"], [data-testid="runs-empty"]');
  const runIds = await page.$$eval('[data-testid^="chart-training-"]', (els) => els.map((e) => e.dataset.testid));
  check(runIds.length > 0, 'no training-curve chart (trained bpr, so DIR/runs has a run)');
  const curve = await chartPixels(page, runIds[0]);
  check(curve.painted > 500, `training chart ${runIds[0]} is blank: ${JSON.stringify(curve)}`);
  await shot('07-admin');
  await noErrors('admin');
  log(`admin: ${qrows} quality rows, ${evalRows} eval rows, ${runIds.length} training chart(s), charts ${perDay.painted}/${arms.painted}/${curve.painted} painted px`);
}

const watchdog = setTimeout(async () => {
  console.error('FAIL: e2e took longer than 110 s');
  await cleanup();
  process.exit(3);
}, 110000);

try {
  await main();
  await cleanup();
  clearTimeout(watchdog);
  log(`PASS (screenshots in ${ARTIFACTS})`);
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e instanceof Fail ? e.message : e.stack || e}`);
  await cleanup();
  clearTimeout(watchdog);
  process.exit(1);
}
