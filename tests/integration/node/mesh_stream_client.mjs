// Issue 12 across the mesh, with the official `openai` npm client: streams that survive the
// death or the drain of the node serving them, and a steady load that a rolling restart must
// not lose a request of. Every stream is read through the SDK; a fetch wrapper keeps the raw
// bytes too, so the checks see `data: [DONE]` and the route comment the SDK hides.
//
// Usage:
//   node mesh_stream_client.mjs kill  BASE_URL MODEL NODES_JSON [refuse]
//        one stream from BASE_URL; after 5 content chunks, SIGKILL every process of the node
//        serving it (NODES_JSON: {"b": [supervisor pid, its children...], ...}); expect one id,
//        200 completion tokens, finish_reason length and [DONE]. With `refuse` the request asks
//        for logprobs: expect an OpenAI.APIError naming them instead.
//   node mesh_stream_client.mjs drain NODE NODES_JSON MODEL MAX_TOKENS BASE_URL...
//        one stream from each BASE_URL; once each has 5 content chunks, SIGTERM to NODE's
//        supervisor (a drain); expect every stream whole. Prints each stream's route.
//   node mesh_stream_client.mjs load  URLS_JSON MODEL CONCURRENCY MAX_TOKENS STOP_FILE
//        CONCURRENCY clients, each streaming one request after the other until STOP_FILE
//        exists. Each request goes to a router whose /readyz says 200, as a load balancer
//        would send it; a refusal before the answer begins (503, or a connection the draining
//        router closed) is retried on another ready router, as a load balancer retries, and
//        counted as `retried`. A stream that breaks or ends short once its 200 came is
//        `lost`. Prints one JSON line of counts; exits 1 if any request was lost.
// Exits 0 when every check passes.
import OpenAI from 'openai';
import { existsSync } from 'node:fs';

const [mode, ...args] = process.argv.slice(2);
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };
const KILL_AFTER = 5;  // content chunks before the signal
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// An SDK client whose fetch also keeps the raw body of the last response in `raw.text`.
function clientFor(baseURL, raw) {
  const capture = async (url, init) => {
    const res = await fetch(url, init);
    if (!res.body) return res;
    const [mine, theirs] = res.body.tee();
    raw.text = '';
    raw.done = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const part of mine) raw.text += decoder.decode(part, { stream: true });
      } catch { /* the SDK's side reports the break */ }
    })();
    return new Response(theirs, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 120_000, fetch: capture });
}

function chatRequest(model, maxTokens) {
  return {
    model, messages: [{ role: 'user', content: 'Tell a long story' }], max_tokens: maxTokens, stream: true,
    stream_options: { include_usage: true },
  };
}

// The node named in the last hop of x-qmesh-route: "a (...) > b/demo@127.0.0.1:PORT (...)".
function servingNode(route) {
  const hops = (route || '').split(' > ');
  return /^([^/ ]+)\//.exec(hops.at(-1))?.[1];
}

// Streams one request; `onChunk(n)` after each content chunk. Returns what the checks need.
// `state.started` turns true once the router answered 200: from then on a failure is a loss.
async function stream(client, raw, request, onChunk = () => {}, state = {}) {
  const { data: s, response } = await client.chat.completions.create(request).withResponse();
  state.started = true;
  const out = { route: response.headers.get('x-qmesh-route'), ids: new Set(), usage: null, finish: null, chunks: 0 };
  for await (const chunk of s) {
    out.ids.add(chunk.id);
    if (chunk.choices.length > 0) {
      finishIf(out, chunk.choices[0].finish_reason);
      if (chunk.choices[0].delta?.content) onChunk(++out.chunks);
    }
    if (chunk.usage) out.usage = chunk.usage;
  }
  await raw.done;
  out.raw = raw.text;
  return out;
}
function finishIf(out, reason) { if (reason) out.finish = reason; }

function whole(out, maxTokens, label) {
  const problems = [];
  if (out.ids.size !== 1) problems.push(`${label}: chunk ids ${[...out.ids]}`);
  if (out.usage?.completion_tokens !== maxTokens)
    problems.push(`${label}: usage.completion_tokens ${out.usage?.completion_tokens}, want ${maxTokens}`);
  if (out.finish !== 'length') problems.push(`${label}: finish_reason ${out.finish}`);
  if (!/\ndata: \[DONE\]\n\n/.test('\n' + out.raw)) problems.push(`${label}: no data: [DONE]`);
  return problems;
}

function killNode(pids) {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

if (mode === 'kill') {
  const [baseURL, model, nodesJson, refuse] = args;
  const nodes = JSON.parse(nodesJson);
  const raw = {};
  const client = clientFor(baseURL, raw);
  const request = { ...chatRequest(model, 200), ...(refuse ? { logprobs: true } : {}) };
  let killed = null;
  const kill = (route) => {
    killed = servingNode(route);
    if (!nodes[killed]) throw new Error(`cannot tell the serving node from x-qmesh-route "${route}"`);
    killNode(nodes[killed]);
    console.log(`killed node ${killed}`);
  };
  let route = null;
  try {
    const { data: s, response } = await client.chat.completions.create(request).withResponse();
    route = response.headers.get('x-qmesh-route');
    const out = { ids: new Set(), usage: null, finish: null, chunks: 0 };
    for await (const chunk of s) {
      out.ids.add(chunk.id);
      if (chunk.choices.length > 0) {
        finishIf(out, chunk.choices[0].finish_reason);
        if (chunk.choices[0].delta?.content && ++out.chunks === KILL_AFTER) kill(route);
      }
      if (chunk.usage) out.usage = chunk.usage;
    }
    await raw.done;
    out.raw = raw.text;
    if (refuse) failures.push('the stream ended without an error');
    else failures.push(...whole(out, 200, 'stream'));
    check(killed !== null, `only ${out.chunks} content chunks: nothing was killed`);
    console.log(`route: ${route}; final: ${out.raw.split('\n').filter((l) => l.startsWith(': qmesh-route')).join('')}`);
  } catch (e) {
    if (!refuse) throw e;
    check(killed !== null, 'the error came before the kill');
    check(e instanceof OpenAI.APIError, `error is not an APIError: ${e}`);
    check(e.code === 'upstream_error', `error code ${e.code}: ${e.message}`);
    check(/logprobs/.test(e.message), `error message: ${e.message}`);
  }
} else if (mode === 'drain') {
  const [node, nodesJson, model, maxTokensText, ...urls] = args;
  const nodes = JSON.parse(nodesJson);
  const maxTokens = Number(maxTokensText);
  let ready = 0, drained = false;
  const onChunk = (n) => {
    if (n !== KILL_AFTER || ++ready !== urls.length) return;
    process.kill(nodes[node][0], 'SIGTERM');  // the supervisor: SIGTERM drains the node
    drained = true;
    console.log(`drain of ${node} started`);
  };
  const outs = await Promise.all(urls.map(async (url) => {
    const raw = {};
    const out = await stream(clientFor(`${url}/v1`, raw), raw, chatRequest(model, maxTokens), onChunk);
    const final = out.raw.split('\n').filter((l) => l.startsWith(': qmesh-route')).join('');
    console.log(`stream from ${url}: served by ${servingNode(out.route)} (${out.route})${final ? '; ' + final : ''}`);
    return out;
  }));
  check(drained, 'the drain never started');
  outs.forEach((out, i) => failures.push(...whole(out, maxTokens, `stream ${i} from ${urls[i]}`)));
} else if (mode === 'load') {
  const [urlsJson, model, concurrencyText, maxTokensText, stopFile] = args;
  const urls = JSON.parse(urlsJson);
  const maxTokens = Number(maxTokensText);
  const counts = { requests: 0, completed: 0, retried: 0, lost: 0, waits: 0 };
  const lostWhy = [];
  const readyRouter = async () => {
    for (;;) {
      for (const url of [...urls].sort(() => Math.random() - 0.5)) {
        try {
          const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
          if (r.status === 200) return url;
        } catch { /* down: try the next */ }
      }
      ++counts.waits;
      await sleep(100);
    }
  };
  const worker = async () => {
    while (!existsSync(stopFile)) {
      ++counts.requests;
      for (;;) {  // one request, retried across routers until it starts
        const url = await readyRouter();
        const raw = {};
        const state = { started: false };
        try {
          const out = await stream(clientFor(`${url}/v1`, raw), raw, chatRequest(model, maxTokens), () => {}, state);
          const problems = whole(out, maxTokens, `request via ${url} (${out.route})`);
          if (problems.length) {
            ++counts.lost;
            lostWhy.push(...problems);
          } else {
            ++counts.completed;
          }
          break;
        } catch (e) {
          if (state.started) {
            ++counts.lost;
            lostWhy.push(`request via ${url} broke after its answer began: ${e}`);
            break;
          }
          ++counts.retried;  // refused or cut before any byte of the answer: safe to send again
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Number(concurrencyText) }, worker));
  console.log(JSON.stringify({ ...counts, lostWhy: lostWhy.slice(0, 10) }));
  check(counts.lost === 0, `${counts.lost} request(s) lost`);
} else {
  failures.push(`unknown mode ${mode}`);
}

if (failures.length) {
  console.error('FAILED:\n  ' + failures.join('\n  '));
  process.exit(1);
}
console.log('ok');
