// openai_sdk.cjs - OpenAI's official Node.js SDK against `birkhoff serve`: models, chat (whole
// and streamed, the stream's accumulated completion equal to the whole one), completions, a
// tool round trip (tools offered, the assistant's tool call and the tool's result sent back
// as the SDK types them) and errors raised as the SDK's APIError with OpenAI's fields.
//   NODE_PATH=<folder with node_modules/openai> node openai_sdk.cjs <base url>
const assert = require("node:assert/strict");
const OpenAIModule = require("openai");
const OpenAI = OpenAIModule.default ?? OpenAIModule;

async function main() {
  const client = new OpenAI({ baseURL: process.argv[2] + "/v1", apiKey: "unused", maxRetries: 0 });
  const models = await client.models.list();
  const model = models.data[0].id;
  assert.equal(model, "synth-tiny");

  const ask = {
    model,
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "What is the capital of France?" },
    ],
    max_tokens: 16,
    temperature: 0,
    ignore_eos: true, // Birkhoff's field: a random model may end early otherwise
  };
  const whole = await client.chat.completions.create(ask);
  assert.equal(whole.object, "chat.completion");
  assert.equal(whole.choices[0].message.role, "assistant");
  assert.equal(whole.choices[0].finish_reason, "length");
  assert.equal(whole.usage.completion_tokens, 16);

  const stream = await client.chat.completions.create({
    ...ask, stream: true, stream_options: { include_usage: true } });
  let content = "", chunks = 0, usage = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) content += c.delta.content ?? "";
  }
  assert.equal(content, whole.choices[0].message.content);
  assert.ok(chunks >= 3, `${chunks} chunks`);
  assert.deepEqual(usage, whole.usage);
  // The SDK's own stream helper accumulates the deltas into a completion.
  const helper = client.chat.completions.stream(ask);
  const final = await helper.finalChatCompletion();
  assert.equal(final.choices[0].message.content, whole.choices[0].message.content);

  const completion = await client.completions.create({
    model, prompt: "The cat", max_tokens: 8, temperature: 0, ignore_eos: true });
  assert.equal(completion.object, "text_completion");
  assert.equal(completion.usage.completion_tokens, 8);
  assert.equal(typeof completion.choices[0].text, "string");

  // A tool round trip: the tools offered, then the conversation carrying the assistant's call
  // and the tool's result, as an agent loop sends it back.
  const tools = [{
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  }];
  const first = await client.chat.completions.create({
    model, tools, tool_choice: "auto", max_tokens: 8, temperature: 0, ignore_eos: true,
    messages: [{ role: "user", content: "Weather in Paris?" }] });
  assert.equal(first.choices[0].message.role, "assistant");
  const second = await client.chat.completions.create({
    model, tools, max_tokens: 8, temperature: 0, ignore_eos: true,
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{
        id: "call_1", type: "function",
        function: { name: "get_weather", arguments: JSON.stringify({ city: "Paris" }) } }] },
      { role: "tool", tool_call_id: "call_1", content: "18 C, sunny" },
    ] });
  assert.equal(second.choices[0].message.role, "assistant");
  assert.ok(second.usage.prompt_tokens > first.usage.prompt_tokens);

  // Errors come back as the SDK's typed errors, with OpenAI's fields.
  await assert.rejects(
    client.chat.completions.create({ ...ask, temperature: 7 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "temperature");
  await assert.rejects(
    client.chat.completions.create({ ...ask, model: "gpt-4o" }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found");
  await assert.rejects(
    client.chat.completions.create({ ...ask, n: 2 }),
    (e) => e.status === 400 && e.code === "unsupported");
  console.log(`openai sdk: models, chat (${chunks} chunks streamed), completions, tools, errors: PASS`);
}

main().catch((e) => { console.error(e); process.exit(1); });
