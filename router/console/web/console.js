// The console: a snapshot from GET /api/console, kept live by GET /api/events (read with
// fetch, not EventSource, so that it can send the admin key as a bearer token), actions as
// POSTs. No framework, nothing loaded from elsewhere. Rendering is in views.js.
'use strict';

(() => {
  const $ = id => document.getElementById(id);
  const KEY = 'qmesh.adminKey';
  const S = {
    snap: null,           // the last /api/console
    requests: [],         // live requests, with requestsAt: when they were fetched
    requestsAt: Date.now(),
    errors: [],
    finished: [],         // {model, node, tokens, ms, time} of the last minute, for tokens/s
    lastEventId: null,
    view: 'mesh',
    logWorker: '',
  };

  // ---- HTTP ----
  function headers(extra) {
    const h = Object.assign({}, extra || {});
    const key = sessionStorage.getItem(KEY);
    if (key) h.Authorization = 'Bearer ' + key;
    return h;
  }
  class AuthError extends Error {}
  async function api(path, opts) {
    const res = await fetch(path, Object.assign({headers: headers(), cache: 'no-store'}, opts || {}));
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => ({}));
      const e = new AuthError((body.error && body.error.message) || `HTTP ${res.status}`);
      e.code = body.error && body.error.code;
      throw e;
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || `HTTP ${res.status}`);
    return body;
  }

  // ---- login ----
  function showLogin(message) {
    stopEvents();
    $('app').hidden = true;
    $('invite').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
    setConn('error', 'admin key needed');
    $('key').focus();
  }
  $('login').addEventListener('submit', ev => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('key').value);
    $('key').value = '';
    start();
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showLogin('');
  });

  // ---- snapshot ----
  let refreshTimer = null;
  function scheduleRefresh(ms) {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, ms);
  }
  async function refresh() {
    try {
      const snap = await api('/api/console');
      S.snap = snap;
      S.requests = snap.requests;
      S.requestsAt = Date.now();
      S.errors = snap.errors;
      render();
    } catch (e) {
      if (e instanceof AuthError) showLogin(e.message);
    }
  }
  async function start() {
    try {
      S.snap = await api('/api/console');
    } catch (e) {
      if (e instanceof AuthError) return showLogin(sessionStorage.getItem(KEY) ? e.message : '');
      setConn('reconnecting', 'disconnected, reconnecting…');
      return setTimeout(start, 2000);
    }
    S.requests = S.snap.requests;
    S.requestsAt = Date.now();
    S.errors = S.snap.errors;
    $('login').hidden = true;
    $('app').hidden = false;
    $('invite').hidden = !S.snap.actions.invite;
    $('logout').hidden = !sessionStorage.getItem(KEY);
    $('node-name').textContent = S.snap.node;
    document.title = `qmesh ${S.snap.node}`;
    render();
    connectEvents();
  }

  // ---- events ----
  let abort = null, retryDelay = 1000, retryTimer = null;
  function setConn(state, text) {
    $('conn').dataset.state = state;
    $('conn').textContent = text;
  }
  function stopEvents() {
    if (abort) abort.abort();
    abort = null;
    clearTimeout(retryTimer);
  }
  function reconnectLater() {
    setConn('reconnecting', 'disconnected, reconnecting…');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connectEvents, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 5000);
  }
  async function connectEvents() {
    stopEvents();
    const ctl = new AbortController();
    abort = ctl;
    const h = {Accept: 'text/event-stream'};
    if (S.lastEventId !== null) h['Last-Event-ID'] = String(S.lastEventId);
    let res;
    try {
      res = await fetch('/api/events', {headers: headers(h), signal: ctl.signal, cache: 'no-store'});
    } catch (e) {
      if (ctl.signal.aborted) return;
      return reconnectLater();
    }
    if (res.status === 401 || res.status === 403) return showLogin('the admin key was refused');
    if (!res.ok || !res.body) return reconnectLater();
    setConn('live', 'live');
    retryDelay = 1000;
    if (S.lastEventId !== null) scheduleRefresh(0);  // catch up on what events do not carry
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += decoder.decode(value, {stream: true});
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          dispatch(block);
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (!ctl.signal.aborted) reconnectLater();
  }
  function dispatch(block) {
    let id = null, type = 'message', data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') type = value;
      else if (field === 'data') data += value;
    }
    if (!data) return;
    if (id !== null) S.lastEventId = id;
    let ev;
    try { ev = JSON.parse(data); } catch (e) { return; }
    onEvent(type, ev);
  }

  function onEvent(type, ev) {
    const snap = S.snap;
    if (type === 'member_joined' || type === 'member_state') {
      const members = (snap.mesh && snap.mesh.members) || [];
      const m = members.find(x => x.name === ev.node);
      if (m) m.state = ev.state;
      renderView('mesh');
      scheduleRefresh(200);
    } else if (type === 'worker_state') {
      // A step of a load's progress (one per percent) changes nothing else: no snapshot.
      let known = false, sameState = true;
      for (const model of (snap.status && snap.status.models) || [])
        for (const w of model.workers)
          if (model.name === ev.model && w.node === ev.node) {
            known = true;
            sameState = sameState && w.state === ev.state;
            w.state = ev.state;
            if (ev.pid !== undefined) w.pid = ev.pid;
            if (ev.restarts !== undefined) w.restarts = ev.restarts;
            if (typeof ev.load_progress === 'number') w.load_progress = ev.load_progress;
            else if (ev.state !== 'loading') delete w.load_progress;
          }
      renderView('models');
      if (!known || !sameState || typeof ev.load_progress !== 'number') scheduleRefresh(200);
    } else if (type === 'supervisor_lost' || type === 'supervisor_back') {
      const sup = snap.status && snap.status.supervisor;
      if (sup) {
        sup.reachable = type === 'supervisor_back';
        sup.last_error = ev.error || '';
      }
      renderBanner();
      scheduleRefresh(200);
    } else if (type === 'request_started') {
      S.requests.push(Object.assign({}, ev, {elapsed_ms: ev.elapsed_ms - (Date.now() - S.requestsAt)}));
      renderView('requests');
    } else if (type === 'request_finished') {
      S.requests = S.requests.filter(r => r.request_id !== ev.request_id);
      S.finished.push({model: ev.model, node: nodeOfRoute(ev.route), tokens: ev.tokens, time: Date.now(),
                       ms: ev.duration_ms});
      if (ev.status >= 400 && ev.status !== 499) S.errors.push(ev);
      renderView('requests');
      renderView('errors');
      scheduleRefresh(500);
    } else if (type === 'replay_gap' || type === 'keys_reloaded') {
      scheduleRefresh(0);
    }
  }

  // ---- rendering ----
  // The node that served a request, from its route (x-qmesh-route): the last hop's
  // "NODE/worker (why)", or a bare "NODE" when the next router's route did not come back.
  function nodeOfRoute(route) {
    const last = String(route || '').split(' > ').pop();
    return last.split(/[/ ]/)[0];
  }
  // Tokens/s by "model|node" over the last minute of streams this router relayed.
  function rates() {
    const now = Date.now();
    S.finished = S.finished.filter(f => now - f.time < 60000);
    const tokens = {}, ms = {};
    for (const f of S.finished) {
      const k = `${f.model}|${f.node}`;
      tokens[k] = (tokens[k] || 0) + f.tokens;
      ms[k] = (ms[k] || 0) + f.ms;
    }
    const out = {};
    for (const k of Object.keys(tokens)) if (ms[k] > 0 && tokens[k] > 0) out[k] = tokens[k] / (ms[k] / 1000);
    return out;
  }
  function renderBanner() {
    if (S.snap) $('banner').replaceChildren(...V.supervisorBanner(S.snap));
  }
  function renderView(name) {
    const snap = S.snap;
    if (!snap) return;
    if (name === 'mesh') $('mesh-body').replaceChildren(...V.mesh(snap));
    if (name === 'models') $('models-body').replaceChildren(...V.models(snap, rates(), snap.actions));
    if (name === 'requests') {
      $('requests-body').replaceChildren(...V.requests(S.requests, Date.now(), S.requestsAt));
      $('live-count').textContent = S.requests.length ? String(S.requests.length) : '';
    }
    if (name === 'errors') {
      $('errors-body').replaceChildren(...V.errors(S.errors));
      $('error-count').textContent = S.errors.length ? String(S.errors.length) : '';
    }
    if (name === 'logs') renderLogChoices();
  }
  function render() {
    renderBanner();
    for (const v of ['mesh', 'models', 'requests', 'errors', 'logs']) renderView(v);
  }

  // ---- tabs (arrow keys move between them, as WAI-ARIA tabs do) ----
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  function select(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    S.view = tab.id.slice(4);
    if (focus) tab.focus();
    if (S.view === 'logs') loadLog();
  }
  for (const t of tabs) {
    t.addEventListener('click', () => select(t, false));
    t.addEventListener('keydown', ev => {
      const i = tabs.indexOf(t);
      if (ev.key === 'ArrowRight') select(tabs[(i + 1) % tabs.length], true);
      else if (ev.key === 'ArrowLeft') select(tabs[(i + tabs.length - 1) % tabs.length], true);
      else if (ev.key === 'Home') select(tabs[0], true);
      else if (ev.key === 'End') select(tabs[tabs.length - 1], true);
      else return;
      ev.preventDefault();
    });
  }

  // ---- actions ----
  function say(text, error) {
    $('action-status').textContent = text;
    $('action-status').classList.toggle('error', !!error);
  }
  document.addEventListener('click', async ev => {
    const b = ev.target.closest('button');
    if (!b) return;
    try {
      if (b.classList.contains('load') || b.classList.contains('unload')) {
        const action = b.classList.contains('load') ? 'load' : 'unload';
        b.disabled = true;
        say(`${action === 'load' ? 'Loading' : 'Unloading'} ${b.dataset.model}…`);
        await api(`/api/models/${encodeURIComponent(b.dataset.model)}/${action}`, {method: 'POST', headers: headers()});
        // The button comes back with the next worker_state event (the row is redrawn).
      } else if (b.classList.contains('restart')) {
        b.disabled = true;
        await api(`/api/workers/${encodeURIComponent(b.dataset.worker)}/restart`, {method: 'POST', headers: headers()});
        say(`Restarting ${b.dataset.worker}…`);
      } else if (b.classList.contains('cancel')) {
        b.disabled = true;
        await api(`/api/requests/${encodeURIComponent(b.dataset.request)}/cancel`, {method: 'POST', headers: headers()});
        say(`Cancelled ${b.dataset.request}.`);
      }
    } catch (e) {
      b.disabled = false;
      say(`Failed: ${e.message}`, true);
    }
  });
  $('invite').addEventListener('click', async () => {
    try {
      const r = await api('/api/invites', {method: 'POST', headers: headers()});
      $('invite-token').value = r.token;
      $('invite-box').hidden = false;
      $('invite-token').focus();
      $('invite-token').select();
    } catch (e) {
      say(`No invite: ${e.message}`, true);
    }
  });
  $('invite-close').addEventListener('click', () => {
    $('invite-token').value = '';
    $('invite-box').hidden = true;
    $('invite').focus();
  });

  // ---- logs ----
  function localWorkers() {
    const out = [];
    for (const m of (S.snap && S.snap.status && S.snap.status.models) || [])
      if (m.workers.some(w => !w.remote)) out.push(m.name);
    return out;
  }
  function renderLogChoices() {
    const names = localWorkers();
    const sel = $('log-worker');
    if ([...sel.options].map(o => o.value).join() === names.join()) return;
    sel.replaceChildren(...names.map(n => V.el('option', {value: n}, n)));
    if (names.includes(S.logWorker)) sel.value = S.logWorker;
  }
  async function loadLog() {
    if (!S.snap) return;
    if (!S.snap.actions.logs) {
      $('log-body').textContent = 'This router runs without a supervisor (static mode): there are no worker logs to show.';
      return;
    }
    S.logWorker = $('log-worker').value;
    if (!S.logWorker) {
      $('log-body').textContent = 'This node runs no worker of its own: open the console of the node that does.';
      return;
    }
    try {
      const r = await api(`/api/workers/${encodeURIComponent(S.logWorker)}/log`);
      $('log-body').textContent = r.lines.length ? r.lines.join('\n')
        : `${S.logWorker} has written nothing yet (or nothing since its last start).`;
    } catch (e) {
      $('log-body').textContent = `Could not read the log of ${S.logWorker}: ${e.message}`;
    }
  }
  $('log-worker').addEventListener('change', loadLog);
  $('log-refresh').addEventListener('click', loadLog);

  // Elapsed times tick, tokens so far and logs are polled while shown; the whole snapshot
  // (CPU, memory, load from gossip) every 10 s.
  setInterval(async () => {
    if (!S.snap || $('app').hidden) return;
    if (S.view === 'requests' && S.requests.length) {
      try {
        S.requests = await api('/api/requests');
        S.requestsAt = Date.now();
      } catch (e) { /* the event stream shows the connection state */ }
      renderView('requests');
    }
    if (S.view === 'logs') loadLog();
  }, 1000);
  setInterval(() => { if (S.snap && !$('app').hidden) scheduleRefresh(0); }, 10000);

  start();
})();
