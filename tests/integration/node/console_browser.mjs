// Drives the router's /console in Debian's chromium through playwright-core (nothing is
// downloaded), for tests/integration/console_browser_test.cpp, which starts the nodes and
// passes what this script needs in the environment:
//
//   QMESH_SCENARIO      "mesh": the config/mesh demo (nodes a, b, c) seen from a's console
//                       "keys": one node with router.admin_keys and router.api_keys
//   QMESH_CONSOLE_URL   http://127.0.0.1:PORT/console of the node under test
//   QMESH_ARTIFACTS     where screenshots go
//   mesh:  QMESH_KILL_PIDS (b's supervisor, router and llama-server, comma-separated),
//          QMESH_LLAMA_PORT (a's llama-server, for its /slots), QMESH_STREAM_MODEL
//   keys:  QMESH_ADMIN_KEY, QMESH_CLIENT_KEY
//
// Prints one line per check ("ok ..." or "FAIL ..."), and figures as "figure NAME VALUE";
// exits 1 on the first failure. Any error in the browser console fails the run.
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const env = process.env;
const url = env.QMESH_CONSOLE_URL;
const artifacts = env.QMESH_ARTIFACTS || '.';
const consoleErrors = [];
// Expected in the keys scenario only: the browser logs the 401/403 of a refused key itself.
const allowedErrors = [];

function ok(what) { console.log(`ok ${what}`); }
function fail(what) { throw new Error(what); }
function figure(name, value) { console.log(`figure ${name} ${value}`); }

async function shot(page, name) {
  fs.mkdirSync(artifacts, {recursive: true});
  const file = path.join(artifacts, `console-${name}.png`);
  await page.screenshot({path: file, fullPage: true});
  ok(`screenshot ${file}`);
}

async function view(page, name) {
  await page.click(`#tab-${name}`);
  await page.waitForSelector(`#view-${name}:not([hidden])`);
}

// Streams a chat completion from the router (a real client, outside the browser); resolves
// with how the stream ended.
function startStream(base, model) {
  const ctl = new AbortController();
  const done = (async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST', signal: ctl.signal,
      headers: {'content-type': 'application/json', 'x-request-id': 'console-stream-1'},
      body: JSON.stringify({model, stream: true, max_tokens: 100000, messages: [{role: 'user', content: 'tell me everything'}]}),
    });
    const reader = res.body.getReader();
    let bytes = 0;
    try {
      for (;;) {
        const {value, done} = await reader.read();
        if (done) return {ended: 'eof', bytes};
        bytes += value.length;
      }
    } catch (e) {
      return {ended: 'error', bytes, error: String(e)};
    }
  })();
  return {ctl, done};
}

async function busySlots(port) {
  const res = await fetch(`http://127.0.0.1:${port}/slots`);
  const slots = await res.json();
  return slots.filter(s => s.is_processing).length;
}

async function waitFor(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) fail(`${what}: not within ${ms} ms`);
    await new Promise(r => setTimeout(r, 100));
  }
}

async function meshScenario(page) {
  const base = new URL(url).origin;
  const t0 = Date.now();
  await page.goto(url);
  for (const n of ['a', 'b', 'c'])
    await page.waitForSelector(`#mesh-body tr[data-node="${n}"][data-state="alive"]`, {timeout: 30000});
  ok('the console of a shows nodes a, b and c alive');
  await page.waitForSelector('#conn[data-state="live"]');
  await shot(page, 'mesh');

  await view(page, 'models');
  for (const m of ['demo-a', 'demo-b', 'demo-c'])
    await page.waitForSelector(`#models-body tr[data-model="${m}"][data-state="ready"]`, {timeout: 30000});
  ok('the console of a shows models demo-a, demo-b and demo-c ready');
  await shot(page, 'models');

  // The page is never reloaded: a marker set now must survive to the end.
  await page.evaluate(() => { window.__qmeshNoReload = true; });

  // A stream appears under live requests; its cancel button ends it and frees the slot.
  await view(page, 'requests');
  const stream = startStream(base, env.QMESH_STREAM_MODEL || 'demo-a');
  const row = '#requests-body tr[data-request-id="console-stream-1"]';
  await page.waitForSelector(row, {timeout: 10000});
  ok('a streaming request shows under live requests');
  await waitFor(async () => Number(await page.textContent(`${row} .tokens`)) > 0, 5000, 'tokens so far grow');
  await shot(page, 'requests');
  await page.focus(`${row} button.cancel`);
  await page.keyboard.press('Enter');  // the keyboard works as well as a click
  const ended = await Promise.race([stream.done, new Promise(r => setTimeout(() => r(null), 5000))]);
  if (!ended) fail('the cancelled stream did not end within 5 s');
  ok(`the cancel button ended the stream (${ended.ended} after ${ended.bytes} bytes)`);
  await page.waitForSelector(row, {state: 'detached', timeout: 5000});
  ok('the request left the live requests');
  if (env.QMESH_LLAMA_PORT) {
    await waitFor(async () => (await busySlots(env.QMESH_LLAMA_PORT)) === 0, 5000, 'llama-server frees the slot');
    ok('the llama-server slot is free again');
  }

  // Restart: the pid in the page changes, without a reload.
  await view(page, 'models');
  const pidCell = '#models-body tr[data-model="demo-a"][data-node="a"] td.pid';
  const before = (await page.textContent(pidCell)).trim();
  await page.click('#models-body tr[data-model="demo-a"][data-node="a"] button.restart');
  const changeSeen = Date.now();
  await page.waitForFunction(([sel, old]) => {
    const td = document.querySelector(sel);
    return td && td.textContent.trim() !== old && /^\d+$/.test(td.textContent.trim()) && Number(td.textContent) > 0;
  }, [pidCell, before], {timeout: 60000});
  const after = (await page.textContent(pidCell)).trim();
  ok(`the restart button restarted demo-a: pid ${before} -> ${after}`);
  figure('restart_to_new_pid_in_page_ms', Date.now() - changeSeen);
  await page.waitForSelector('#models-body tr[data-model="demo-a"][data-node="a"][data-state="ready"]', {timeout: 60000});

  // Logs of the restarted worker.
  await view(page, 'logs');
  await page.selectOption('#log-worker', 'demo-a');
  await page.waitForFunction(() => document.getElementById('log-body').textContent.includes('qmesh: started pid'),
                             null, {timeout: 10000});
  ok('the log view shows the tail of demo-a');
  await shot(page, 'logs');

  // kill -9 of b: dead within 3 s, no reload.
  await view(page, 'mesh');
  const pids = (env.QMESH_KILL_PIDS || '').split(',').filter(Boolean).map(Number);
  if (!pids.length) fail('QMESH_KILL_PIDS is empty');
  const killedAt = Date.now();
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch (e) { /* gone already */ } }
  await page.waitForSelector('#mesh-body tr[data-node="b"][data-state="dead"]', {timeout: 3000});
  const deadMs = Date.now() - killedAt;
  ok(`b shows as dead ${deadMs} ms after kill -9`);
  figure('kill_to_dead_in_page_ms', deadMs);
  if (!await page.evaluate(() => window.__qmeshNoReload === true)) fail('the page was reloaded');
  ok('no reload');
  await shot(page, 'mesh-b-dead');

  await view(page, 'errors');
  await shot(page, 'errors');
  figure('scenario_ms', Date.now() - t0);
}

async function keysScenario(page) {
  allowedErrors.push(/status of 40[13]/);
  await page.goto(url);
  await page.waitForSelector('#login:not([hidden])', {timeout: 10000});
  if (await page.isVisible('#app')) fail('the console shows data without a key');
  ok('no key: the login form');
  await shot(page, 'login');

  await page.fill('#key', env.QMESH_CLIENT_KEY);
  await page.press('#key', 'Enter');
  await page.waitForSelector('#login-error:not([hidden])', {timeout: 10000});
  const msg = await page.textContent('#login-error');
  if (!/client API keys cannot reach admin endpoints/.test(msg)) fail(`client key: unexpected message "${msg}"`);
  if (await page.isVisible('#app')) fail('a client key opened the console');
  ok(`a client key is refused: "${msg}"`);

  await page.fill('#key', env.QMESH_ADMIN_KEY);
  await page.press('#key', 'Enter');
  await page.waitForSelector('#app:not([hidden])', {timeout: 10000});
  await page.waitForSelector('#conn[data-state="live"]', {timeout: 10000});
  ok('the admin key opens the console and its event stream');
  const stored = await page.evaluate(() => sessionStorage.getItem('qmesh.adminKey'));
  if (stored !== env.QMESH_ADMIN_KEY) fail('the admin key is not in sessionStorage');
  const cookies = await page.context().cookies();
  if (cookies.length) fail(`the console set cookies: ${JSON.stringify(cookies)}`);
  ok('the key is kept in sessionStorage; no cookie');
}

const browser = await chromium.launch({executablePath: env.QMESH_CHROMIUM || '/usr/bin/chromium',
                                       args: ['--no-sandbox', '--disable-gpu']});
let exit = 0;
try {
  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  const page = await context.newPage();
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(`uncaught: ${e.message}`));
  if (env.QMESH_SCENARIO === 'keys') await keysScenario(page);
  else await meshScenario(page);
  const unexpected = consoleErrors.filter(e => !allowedErrors.some(re => re.test(e)));
  if (unexpected.length) fail(`errors in the browser console:\n  ${unexpected.join('\n  ')}`);
  ok(`no errors in the browser console (${consoleErrors.length} expected refusal(s) logged by the browser)`);
  // A phone-sized screenshot of the same page.
  if (env.QMESH_SCENARIO !== 'keys') {
    await page.setViewportSize({width: 390, height: 844});
    await shot(page, 'phone');
  }
} catch (e) {
  console.log(`FAIL ${e.message}`);
  exit = 1;
} finally {
  await browser.close();
}
process.exit(exit);
