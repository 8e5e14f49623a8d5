// Issue 12 with the official `openai` npm client: a stream whose worker dies (or stalls)
// mid-stream completes on another worker, as one stream; a stream that cannot be continued
// ends in an error the SDK raises.
//
// Usage: node stream_survives_client.mjs BASE_URL MODEL MODE PORT=PID[,PORT=PID...]
//   MODE kill     SIGKILL the serving llama-server after a few chunks; expect one whole stream
//        stop     SIGSTOP it instead (the router's stall detection)
//        raw      as kill, read with fetch: the last data event is [DONE], then the
//                 ": qmesh-route ... continued on ..." comment
//        refuse   as kill, with logprobs: expect an OpenAI.APIError naming logprobs
// Prints the PID it signalled on stdout ("signalled PID"), exits 0 when every check passes.
import OpenAI from 'openai';

const [baseURL, model, mode, pidList] = process.argv.slice(2);
const pids = Object.fromEntries((pidList || '').split(',').map((kv) => kv.split('=')));
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };
const MAX = 200;
const KILL_AFTER = 5;  // content chunks before the signal: well before the 200th token

function signalServing(route) {
  const port = /@127\.0\.0\.1:(\d+)/.exec(route || '')?.[1];
  const pid = pids[port];
  if (!pid) throw new Error(`cannot tell the serving worker from x-qmesh-route "${route}"`);
  process.kill(Number(pid), mode === 'stop' ? 'SIGSTOP' : 'SIGKILL');
  console.log(`signalled ${pid}`);
}

const request = {
  model, messages: [{ role: 'user', content: 'Tell a long story' }], max_tokens: MAX, stream: true,
  stream_options: { include_usage: true },
};

if (mode === 'raw') {
  const res = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request),
  });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '', contentChunks = 0, signalled = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    contentChunks = (text.match(/"content":"/g) || []).length;
    if (!signalled && contentChunks >= KILL_AFTER) { signalServing(res.headers.get('x-qmesh-route')); signalled = true; }
  }
  const events = text.split('\n\n').filter((e) => e.length > 0);
  const data = events.filter((e) => e.startsWith('data: '));
  check(data.at(-1) === 'data: [DONE]', `last data event is ${JSON.stringify(data.at(-1))}`);
  const last = events.at(-1);
  check(/^: qmesh-route .*continued on .* after reset$/.test(last), `last event is not the route comment: ${last}`);
  const ids = new Set(data.slice(0, -1).map((e) => JSON.parse(e.slice(6)).id));
  check(ids.size === 1, `ids: ${[...ids]}`);
  const roles = data.filter((e) => e.includes('"role":"assistant"')).length;
  check(roles === 1, `${roles} role chunks`);
} else if (mode === 'refuse') {
  try {
    const { data: stream, response } = await client.chat.completions.create({ ...request, logprobs: true }).withResponse();
    let n = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content && ++n === KILL_AFTER) signalServing(response.headers.get('x-qmesh-route'));
    }
    failures.push('the stream ended without an error');
  } catch (e) {
    check(e instanceof OpenAI.APIError, `error is not an APIError: ${e}`);
    check(e.code === 'upstream_error', `error code ${e.code}: ${e.message}`);
    check(/logprobs/.test(e.message), `error message: ${e.message}`);
  }
} else {
  const { data: stream, response } = await client.chat.completions.create(request).withResponse();
  let n = 0, text = '', usage = null, finish = null;
  const ids = new Set(), created = new Set(), fingerprints = new Set();
  for await (const chunk of stream) {
    ids.add(chunk.id);
    created.add(chunk.created);
    fingerprints.add(chunk.system_fingerprint);
    if (chunk.choices.length > 0) {
      const c = chunk.choices[0].delta?.content ?? '';
      text += c;
      finish = chunk.choices[0].finish_reason ?? finish;
      if (c && ++n === KILL_AFTER) signalServing(response.headers.get('x-qmesh-route'));
    }
    if (chunk.usage) usage = chunk.usage;
  }
  check(ids.size === 1, `chunk ids: ${[...ids]}`);
  check(created.size === 1, `created: ${[...created]}`);
  check(fingerprints.size === 1, `system_fingerprint: ${[...fingerprints]}`);
  check(usage?.completion_tokens === MAX, `usage.completion_tokens ${usage?.completion_tokens}, want ${MAX}`);
  check(usage?.prompt_tokens > 0 && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens,
        `usage ${JSON.stringify(usage)}`);
  check(finish === 'length', `finish_reason ${finish}`);
  check(n > KILL_AFTER, `only ${n} content chunks`);
}

if (failures.length) {
  console.error('FAILED:\n  ' + failures.join('\n  '));
  process.exit(1);
}
console.log('ok');
