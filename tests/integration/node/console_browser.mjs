// Drives the router's /console in Debian's chromium through playwright-core (nothing is
// downloaded), for tests/integration/console_browser_test.cpp, which starts the nodes and
// passes what this script needs in the environment:
//
//   QMESH_SCENARIO      "mesh": the config/mesh demo (nodes a, b, c) seen from a's console
//                       "keys": one node with router.admin_keys and router.api_keys
//                       "ondemand": one node, models demo and demo-2 on demand, a
//                       node.memory_budget that fits one of them
//   QMESH_CONSOLE_URL   http://127.0.0.1:PORT/console of the node under test
//   QMESH_ARTIFACTS     where screenshots go
//   mesh:  QMESH_KILL_PIDS (b's supervisor, router and llama-server, comma-separated),
//          QMESH_LLAMA_PORT (a's llama-server, for its /slots), QMESH_STREAM_MODEL,
//          QMESH_OTHER_ROUTER (b's router, http://HOST:PORT)
//   keys:  QMESH_ADMIN_KEY, QMESH_CLIENT_KEY
//   ondemand: QMESH_CONTROL_URL (the supervisor's control API), QMESH_CONTROL_TOKEN_FILE,
//          QMESH_ROUTER_PID (for its CPU time)
//
// Prints one line per check ("ok ..." or "FAIL ..."), and figures as "figure NAME VALUE";
// exits 1 on the first failure. Any error in the browser console fails the run.
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
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

// Runs a short stream to its end; resolves with the bytes received.
async function streamToEnd(base, model, maxTokens) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: {'content-type': 'application/json'},
    body: JSON.stringify({model, stream: true, max_tokens: maxTokens, messages: [{role: 'user', content: 'hi'}]}),
  });
  if (res.status !== 200) fail(`stream to ${model}: HTTP ${res.status}`);
  return (await res.text()).length;
}

// POST to the supervisor's control API with its token (node:http: no Origin header, which
// the control API refuses).
function controlPost(target) {
  const token = fs.readFileSync(env.QMESH_CONTROL_TOKEN_FILE, 'utf8').trim();
  const u = new URL(target, env.QMESH_CONTROL_URL);
  return new Promise((resolve, reject) => {
    const req = http.request({host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
                              headers: {Authorization: `Bearer ${token}`, 'Content-Length': 0}}, res => {
      let body = '';
      res.on('data', d => { body += d; });
      res.on('end', () => resolve({status: res.statusCode, body}));
    });
    req.on('error', reject);
    req.end();
  });
}

// CPU time (user + system) of a process so far, in ms (/proc/PID/stat, 100 ticks a second).
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');  // fields[0] is field 3, state
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

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

  // Create invite: a token in the page, focused for copying; Close clears it.
  await page.click('#invite');
  await page.waitForSelector('#invite-box:not([hidden])', {timeout: 10000});
  const token = await page.inputValue('#invite-token');
  if (!/^qmesh1\.\S{40,}$/.test(token)) fail(`the invite token looks wrong: "${token.slice(0, 12)}…"`);
  if (!await page.evaluate(() => document.activeElement && document.activeElement.id === 'invite-token'))
    fail('the invite token is not focused for copying');
  ok(`Create invite shows a token (${token.length} characters, qmesh1.…)`);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');  // Close, from the keyboard
  await page.waitForSelector('#invite-box', {state: 'hidden', timeout: 5000});
  if (await page.inputValue('#invite-token') !== '') fail('Close left the token in the page');
  ok('Close hides the invite box and clears the token');

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

  // Tokens/s of another node's worker, from the streams this router relayed to it.
  await view(page, 'models');
  const bytes = await streamToEnd(base, 'demo-b', 16);
  const rateCell = '#models-body tr[data-model="demo-b"][data-node="b"] td.rate';
  await waitFor(async () => Number(await page.textContent(rateCell)) > 0, 5000, 'tokens/s of demo-b on b');
  ok(`a stream to demo-b (${bytes} bytes) shows as ${await page.textContent(rateCell)} tokens/s on node b`);
  // A stream a's router never sees (b's router sends it to c): only c's gossip tells a.
  if (env.QMESH_OTHER_ROUTER) {
    await streamToEnd(env.QMESH_OTHER_ROUTER, 'demo-c', 16);
    const cCell = '#models-body tr[data-model="demo-c"][data-node="c"] td.rate';
    await waitFor(async () => Number(await page.textContent(cCell)) > 0, 20000, 'tokens/s of demo-c on c, from gossip');
    ok(`a stream to demo-c through b's router shows in a's page as ${await page.textContent(cCell)} tokens/s on node c (gossip)`);
  }

  // Restart: the pid in the page changes, without a reload.
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

async function ondemandScenario(page) {
  // The supervisor's refusal (409) is logged by the browser as a failed resource load.
  allowedErrors.push(/status of 409/);
  const row = m => `#models-body tr[data-model="${m}"]`;
  const pid = Number(env.QMESH_ROUTER_PID);

  // The router's CPU over 10 s without a console, then over 10 s with one open (idle).
  let before = cpuMs(pid);
  await sleep(10000);
  const idleMs = cpuMs(pid) - before;
  await page.goto(url);
  await page.waitForSelector('#conn[data-state="live"]', {timeout: 10000});
  await view(page, 'models');
  for (const m of ['demo', 'demo-2']) await page.waitForSelector(`${row(m)}[data-state="unloaded"] button.load`);
  ok('demo and demo-2 show as unloaded, each with a Load button');
  // The empty state says what to do.
  const empty = await page.textContent('#models-body .empty');
  if (!/No model is loaded: use a Load button below/.test(empty)) fail(`no advice with every model unloaded: "${empty}"`);
  ok(`with every model unloaded the page says what to do: "${empty}"`);
  // The views' tabs work from the keyboard (arrow keys, as WAI-ARIA tabs do).
  await page.focus('#tab-models');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('#view-requests:not([hidden])', {timeout: 2000});
  if (!await page.evaluate(() => document.activeElement.id === 'tab-requests' &&
                                 document.getElementById('view-models').hidden))
    fail('ArrowRight did not move to the next view and focus its tab');
  await page.keyboard.press('ArrowLeft');
  await page.waitForSelector('#view-models:not([hidden])', {timeout: 2000});
  ok('ArrowRight and ArrowLeft move between the views and focus their tab');
  before = cpuMs(pid);
  await sleep(10000);
  const openMs = cpuMs(pid) - before;
  figure('router_cpu_ms_per_min_without_console', idleMs * 6);
  figure('router_cpu_ms_per_min_one_console_open', openMs * 6);
  await shot(page, 'models-unloaded');
  await page.evaluate(() => { window.__qmeshNoReload = true; });

  // Every state the page draws for demo (each redraw adds a new row: read the added ones,
  // so two redraws in one task are both seen), and whether a progress bar was drawn.
  await page.evaluate(() => {
    window.__demoStates = [];
    window.__progressSeen = false;
    new MutationObserver(records => {
      for (const rec of records) {
        for (const n of rec.addedNodes) {
          if (!(n instanceof Element)) continue;
          const r = n.matches('tr[data-model="demo"]') ? n : n.querySelector('tr[data-model="demo"]');
          if (!r) continue;
          const states = window.__demoStates;
          if (states[states.length - 1] !== r.dataset.state) states.push(r.dataset.state);
          if (r.querySelector('progress')) window.__progressSeen = true;
        }
      }
    }).observe(document.getElementById('models-body'), {childList: true, subtree: true});
  });
  await page.focus(`${row('demo')} button.load`);
  await page.keyboard.press('Enter');  // from the keyboard
  await page.waitForSelector(`${row('demo')}[data-state="ready"] button.unload`, {timeout: 60000});
  const states = await page.evaluate(() => window.__demoStates);
  if (!states.some(x => x === 'starting' || x === 'loading')) fail(`demo never showed starting or loading: ${states}`);
  ok(`Load: demo went ${states.join(' -> ')} in the page, and now has an Unload button`);
  // While loading, the supervisor reports load_progress (0 until the dots), carried by the
  // worker_state events: every row drawn as loading has its bar.
  const progressSeen = await page.evaluate(() => window.__progressSeen);
  if (states.includes('loading') && !progressSeen) fail('demo showed as loading without a progress bar');
  ok(`progress bar while loading: ${progressSeen ? 'shown' : 'demo was never drawn as loading'}`);

  // demo-2 does not fit beside demo: the supervisor's reason shows in the page.
  await page.click(`${row('demo-2')} button.load`);
  await page.waitForFunction(() => /memory_budget/.test(document.getElementById('action-status').textContent),
                             null, {timeout: 10000});
  const reason = await page.textContent('#action-status');
  if (!/'demo-2' needs about .* unload one first/.test(reason)) fail(`unexpected refusal: "${reason}"`);
  if (!await page.evaluate(() => document.getElementById('action-status').classList.contains('error')))
    fail('the refusal is not shown as an error');
  await page.waitForSelector(`${row('demo-2')}[data-state="unloaded"] button.load:not([disabled])`);
  ok(`Load of demo-2 over the budget is refused in the page: "${reason}"`);
  await shot(page, 'models-refused');

  // Unload, then load again, from the page.
  await page.click(`${row('demo')} button.unload`);
  await page.waitForSelector(`${row('demo')}[data-state="unloaded"] button.load`, {timeout: 20000});
  ok('Unload: demo shows as unloaded');
  await page.click(`${row('demo')} button.load`);
  await page.waitForSelector(`${row('demo')}[data-state="ready"]`, {timeout: 60000});
  ok('Load again: demo shows as ready');

  // The supervisor's own unload (its control API, as `qmesh-supervisor unload` sends it) to
  // the page showing it: from the request sent (the state changes before the answer).
  const shown = [];
  for (let i = 0; i < 3; i++) {
    const sent = Date.now();
    const r = await controlPost('/children/demo/unload');
    if (r.status !== 202) fail(`control API unload: ${r.status} ${r.body}`);
    await page.waitForSelector(`${row('demo')}[data-state="unloaded"]`, {timeout: 5000});
    shown.push(Date.now() - sent);
    if ((await controlPost('/children/demo/load')).status !== 202) fail('control API load refused');
    await page.waitForSelector(`${row('demo')}[data-state="ready"]`, {timeout: 60000});
  }
  ok(`supervisor unload -> page shows unloaded: ${shown.join(', ')} ms`);
  figure('supervisor_unload_to_page_ms_max', Math.max(...shown));

  // The progress bar as the page draws it from load_progress (in a status or an event).
  const bar = await page.evaluate(() => V.workerState({id: 'demo@x', state: 'loading', load_progress: 0.42}).outerHTML);
  if (!/<progress[^>]*value="0.42"/.test(bar) || !bar.includes('42%')) fail(`progress bar: ${bar}`);
  const none = await page.evaluate(() => V.workerState({state: 'loading'}).outerHTML);
  if (none.includes('progress')) fail('a progress bar without load_progress');
  ok('loading with load_progress 0.42 draws a progress bar at 42%');

  if (!await page.evaluate(() => window.__qmeshNoReload === true)) fail('the page was reloaded');
  ok('no reload');

  // A lost connection shows as such and reconnects by itself: kill -9 of the router (its
  // supervisor starts a new one on the same port). The browser logs the failed fetches.
  allowedErrors.push(/net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|INCOMPLETE_CHUNKED_ENCODING)/);
  process.kill(pid, 'SIGKILL');
  await page.waitForSelector('#conn[data-state="reconnecting"]', {timeout: 5000});
  ok(`the page shows "${await page.textContent('#conn')}" once the router is gone`);
  await page.waitForSelector('#conn[data-state="live"]', {timeout: 30000});
  await page.waitForSelector(`${row('demo')}[data-state="ready"]`, {timeout: 10000});
  if (!await page.evaluate(() => window.__qmeshNoReload === true)) fail('the page was reloaded');
  ok('it reconnected to the new router by itself, without reload, and shows demo ready');
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
  else if (env.QMESH_SCENARIO === 'ondemand') await ondemandScenario(page);
  else await meshScenario(page);
  const unexpected = consoleErrors.filter(e => !allowedErrors.some(re => re.test(e)));
  if (unexpected.length) fail(`errors in the browser console:\n  ${unexpected.join('\n  ')}`);
  ok(`no errors in the browser console (${consoleErrors.length} expected refusal(s) logged by the browser)`);
  // A phone-sized screenshot of the same page.
  if (env.QMESH_SCENARIO === 'mesh' || !env.QMESH_SCENARIO) {
    await page.setViewportSize({width: 390, height: 844});
    for (const v of ['mesh', 'models']) {
      await view(page, v);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      if (wide > 390) fail(`the ${v} view is ${wide} px wide on a 390 px phone: the page scrolls sideways`);
    }
    ok('on a 390 px wide phone no view makes the page scroll sideways (wide tables scroll in place)');
    await shot(page, 'phone');
  }
} catch (e) {
  console.log(`FAIL ${e.message}`);
  exit = 1;
} finally {
  await browser.close();
}
process.exit(exit);
