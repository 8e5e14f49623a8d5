// Rendering of the console's views from the state console.js keeps. DOM nodes are built
// with textContent only: names come from gossip and clients, never parsed as HTML.
'use strict';

const V = (() => {
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const dash = '—';
  function fmtDuration(s) {
    if (s === null || s === undefined || !isFinite(s)) return dash;
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s % 60}s`;
    return `${s}s`;
  }
  function fmtMs(ms) { return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`; }
  function pct(v) { return v === null || v === undefined ? dash : `${v}%`; }
  function state(s) { return el('span', {class: `state state-${s}`}, s || dash); }
  // A worker's state; while it loads, its progress (load_progress, 0..1) as a bar when the
  // supervisor reports one.
  function workerState(w) {
    if (w.state !== 'loading' || typeof w.load_progress !== 'number' || !isFinite(w.load_progress)) return state(w.state);
    const p = Math.max(0, Math.min(1, w.load_progress));
    const percent = `${Math.round(p * 100)}%`;
    return el('span', {class: 'loading'}, state(w.state),
      el('progress', {max: '1', value: String(p), 'aria-label': `${w.id || 'worker'} loaded ${percent}`}),
      el('span', {class: 'muted progress-text'}, percent));
  }

  function table(headers, rows) {
    return el('div', {class: 'table-wrap'},
      el('table', {}, el('thead', {}, el('tr', {}, headers.map(h => el('th', {scope: 'col'}, h)))),
        el('tbody', {}, rows)));
  }
  function empty(text) { return el('p', {class: 'empty'}, text); }

  // Mesh: one row per member (this node first), from /api/mesh plus this host's /proc.
  function mesh(s) {
    const m = s.mesh || {};
    const host = s.host || {};
    if (!m.enabled) {
      return [empty(`This node (${s.node}) runs alone: its mesh is off (mesh.gossip has no port). ` +
                    'Set mesh.gossip in its config and join other nodes with an invite to see them here.'),
              nodeTable([{name: s.node, state: 'alive', self: true, version: s.version}], host, s)];
    }
    const members = [...(m.members || [])].sort((a, b) => (b.self - a.self) || a.name.localeCompare(b.name));
    const out = [nodeTable(members, host, s)];
    const st = (m.stats && m.stats.gossip) || {};
    const env = (m.stats && m.stats.envelope) || {};
    out.push(el('p', {class: 'note'},
      `Gossip on ${m.gossip}: ${st.packets_in ?? dash} packets in, ${st.probes ?? dash} probes, ` +
      `${st.suspicions_raised ?? dash} suspicions, ${st.dead_declared ?? dash} declared dead, ` +
      `${env.rejected ?? 0} sealed packets rejected.`));
    if (members.length <= 1)
      out.unshift(empty('No other node has joined yet: use "Create invite" and start another node with it.'));
    return out;
  }

  function nodeTable(members, host, s) {
    const rows = members.map(n => {
      const self = !!n.self;
      // This node: /proc now; the others: their gossip (1-minute load, to half a unit).
      const load = self && host.load ? host.load.map(x => x.toFixed(2)).join(' ')
        : (n.load ? n.load.toFixed(1) : dash);
      const uptime = self && host.uptime_s ? fmtDuration(host.uptime_s)
        : (n.boot_unix ? fmtDuration(Date.now() / 1000 - n.boot_unix) : dash);
      const health = n.state === 'alive' ? (n.workers || []).map(w => w.health).reduce((a, b) => Math.min(a, b), 100) : null;
      return el('tr', {'data-node': n.name, 'data-state': n.state},
        el('td', {}, n.name, self ? el('span', {class: 'muted'}, ' (this node)') : null),
        el('td', {}, state(n.state)),
        el('td', {}, n.version || dash),
        el('td', {}, n.gossip || (self ? s.status && s.status.listen : dash)),
        el('td', {class: 'num'}, pct(n.cpu_percent)),
        el('td', {class: 'num'}, pct(self && host.mem_percent !== null && host.mem_percent !== undefined ? host.mem_percent : n.mem_percent)),
        el('td', {class: 'num'}, load),
        el('td', {class: 'num'}, uptime),
        el('td', {class: 'num'}, n.incarnation ?? dash),
        el('td', {class: 'num'}, health === null ? dash : health));
    });
    return table(['Node', 'State', 'Version', 'Gossip address', 'CPU', 'Memory', 'Load avg', 'Uptime',
                  'Incarnation', 'Health'], rows);
  }

  // Shown above every view while the router cannot reach its supervisor.
  function supervisorBanner(s) {
    const sup = s.status && s.status.supervisor;
    if (!sup || sup.reachable !== false) return [];
    return [el('p', {class: 'banner', role: 'alert'},
      `This router cannot reach its supervisor at ${sup.address}: ${sup.last_error || 'no answer'}. ` +
      'Workers keep their last known state and actions fail until it answers; check that qmesh-supervisor runs ' +
      '(its log, or systemctl status).')];
  }

  // This node's workers: Unload while running, Load when unloaded (the supervisor loads and
  // unloads all of a model's replicas together), Restart.
  function workerActions(m, w, actions) {
    if (w.remote) return [];
    const out = [];
    if (actions.load_unload) {
      const load = w.state === 'unloaded';
      out.push(el('button', {type: 'button', class: load ? 'load' : 'unload', 'data-model': m.name,
                             'aria-label': `${load ? 'Load' : 'Unload'} model ${m.name}`}, load ? 'Load' : 'Unload'));
    }
    if (actions.restart && w.state !== 'unloaded')
      out.push(el('button', {type: 'button', class: 'restart', 'data-worker': m.name,
                             'aria-label': `Restart worker ${m.name}`}, 'Restart'));
    return out;
  }

  // Models: every worker of every model, local or remote, as the router's directory has it.
  // Tokens/s: the node's own figure (tokens_per_s: this router's count for its own workers,
  // gossip for another node's), else rates, by "model|node", of the streams this page saw end.
  function models(s, rates, actions) {
    const ms = (s.status && s.status.models) || [];
    if (!ms.length) {
      const sup = s.status && s.status.supervisor;
      return [empty(sup && !sup.reachable
        ? `No models: the router cannot reach its supervisor (${sup.last_error || 'no answer'}). Check that qmesh-supervisor runs.`
        : 'No models known yet. A node serves the models listed under models: in its config; ' +
          'see the Logs view for a worker that does not start.')];
    }
    const ready = ms.some(m => m.workers.some(w => w.state === 'ready'));
    const out = [];
    const unloaded = ms.filter(m => m.workers.length && m.workers.every(w => w.state === 'unloaded'));
    if (!ready && unloaded.length === ms.length)
      out.push(empty(`No model is loaded: ${actions.load_unload ? 'use a Load button below' : 'run qmesh-supervisor load NAME'}.`));
    else if (!ready) out.push(empty(`No model is ready: see the log of ${ms[0].name} in the Logs view.`));
    const rows = [];
    for (const m of ms) {
      for (const w of m.workers) {
        const told = typeof w.tokens_per_s === 'number' && w.tokens_per_s > 0 ? w.tokens_per_s : 0;
        const rate = told || rates[`${m.name}|${w.node}`];
        rows.push(el('tr', {'data-model': m.name, 'data-node': w.node, 'data-state': w.state},
          el('td', {}, m.name),
          el('td', {}, w.node, w.remote ? '' : el('span', {class: 'muted'}, ' (local)')),
          el('td', {}, workerState(w)),
          el('td', {class: 'num'}, w.slots),
          el('td', {class: 'num'}, w.outstanding),
          el('td', {class: 'num'}, m.queued),
          el('td', {class: 'num rate'}, rate ? rate.toFixed(1) : dash),
          el('td', {class: 'num'}, w.restarts ?? dash),
          el('td', {class: 'num pid', 'data-pid': w.remote ? '' : w.pid}, w.remote || !w.pid ? dash : w.pid),
          el('td', {}, el('span', {class: 'actions'}, workerActions(m, w, actions)))));
      }
    }
    out.push(table(['Model', 'Node', 'State', 'Slots', 'In flight', 'Queued', 'Tokens/s', 'Restarts', 'PID', ''], rows));
    out.push(el('p', {class: 'note'}, 'In flight counts requests through this router. Tokens/s is the speed of ' +
                                      'the streams a node served over the last minute (every router\'s streams ' +
                                      'to it, as that node counts and gossips them).'));
    return out;
  }

  function requests(list, now, receivedAt) {
    if (!list.length) return [empty('No request in flight through this router. Streams show here as they run, with a cancel button.')];
    const rows = list.map(r => el('tr', {'data-request-id': r.request_id},
      el('td', {}, r.request_id),
      el('td', {}, r.model),
      el('td', {}, r.route),
      el('td', {class: 'num'}, fmtMs(r.elapsed_ms + (now - receivedAt))),
      el('td', {class: 'num tokens'}, r.tokens),
      el('td', {}, el('button', {type: 'button', class: 'cancel danger', 'data-request': r.request_id,
                                 'aria-label': `Cancel request ${r.request_id}`}, 'Cancel'))));
    return [table(['Request', 'Model', 'Route', 'Elapsed', 'Tokens so far', ''], rows)];
  }

  function hint(e) {
    if (e.status === 503) return `no ready worker for ${e.model}: see its state in Models and its log`;
    if (e.status === 429) return `${e.model} is full: its queue (router.queue_depth) overflowed; add slots or nodes`;
    if (e.status === 502) return 'the worker broke the connection: see its log';
    if (e.status === 504 || e.status === 408) return 'timed out';
    return '';
  }

  function errors(list) {
    if (!list.length) return [empty('No errors since this router started.')];
    const rows = [...list].reverse().map(e => el('tr', {},
      el('td', {}, new Date(e.time).toLocaleTimeString()),
      el('td', {class: 'num'}, e.status),
      el('td', {}, e.model),
      el('td', {}, e.request_id),
      el('td', {}, e.route),
      el('td', {}, hint(e))));
    return [table(['Time', 'Status', 'Model', 'Request', 'Route', 'What to do'], rows)];
  }

  return {el, mesh, models, requests, errors, fmtDuration, supervisorBanner, workerState};
})();
