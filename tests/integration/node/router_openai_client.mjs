// The official `openai` npm client against a qmesh router: streaming and non-streaming
// chat, and reading an error. Usage: node router_openai_client.mjs BASE_URL MODEL API_KEY
// Exits 0 when every check passes; prints what failed otherwise.
import OpenAI from 'openai';

const [baseURL, model, apiKey] = process.argv.slice(2);
if (!baseURL || !model) {
  console.error('usage: node router_openai_client.mjs BASE_URL MODEL [API_KEY]');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: apiKey || 'unused', maxRetries: 0, timeout: 60_000 });
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

// Non-streaming chat: the SDK parses the worker's JSON as is.
const chat = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 8,
});
check(chat.object === 'chat.completion', `non-streaming object is ${chat.object}`);
check(typeof chat.choices?.[0]?.message?.content === 'string', 'non-streaming reply has content');
check(chat.usage?.completion_tokens > 0, 'non-streaming usage');

// Streaming chat with the usage chunk: deltas arrive one by one, usage last.
const stream = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'Tell a story' }], max_tokens: 16, stream: true,
  stream_options: { include_usage: true },
});
let chunks = 0, text = '', usage = null, finish = null;
for await (const chunk of stream) {
  chunks++;
  if (chunk.choices.length > 0) {
    text += chunk.choices[0].delta?.content ?? '';
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  if (chunk.usage) usage = chunk.usage;
}
check(chunks >= 3, `streamed ${chunks} chunks`);
check(text.length > 0, 'streamed text is empty');
check(finish !== null, 'no finish_reason in the stream');
check(usage?.completion_tokens > 0, 'usage chunk missing from the stream');

// An error the SDK reads as an APIError: unknown model -> 404 with OpenAI's error shape.
try {
  await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
  failures.push('unknown model did not throw');
} catch (e) {
  check(e instanceof OpenAI.APIError, `error is not an APIError: ${e}`);
  check(e.status === 404, `unknown model status ${e.status}`);
  check(e.code === 'model_not_found', `unknown model code ${e.code}`);
  check(/no-such-model/.test(e.message) && new RegExp(model).test(e.message), `error message: ${e.message}`);
}

// A wrong key is a 401 AuthenticationError when the router has keys.
if (apiKey) {
  const bad = new OpenAI({ baseURL, apiKey: 'sk-wrong-key-000', maxRetries: 0 });
  try {
    await bad.models.list();
    failures.push('wrong key was accepted');
  } catch (e) {
    check(e instanceof OpenAI.AuthenticationError, `wrong key gave ${e.status}`);
  }
}

const models = await client.models.list();
check(models.data.some((m) => m.id === model), 'models.list lacks the model');

if (failures.length) {
  console.error('FAILED:\n  ' + failures.join('\n  '));
  process.exit(1);
}
console.log(`ok: ${chunks} streamed chunks, text ${JSON.stringify(text.slice(0, 40))}`);
