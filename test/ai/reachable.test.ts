import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LLM_CHECK_TTL_MS, llmIntegration } from '../../src/ai/reachable.js';

let asked = 0;
const server = createServer((_req, res) => {
  asked++;
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
});
beforeAll(() => new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r())));
afterAll(() => new Promise<void>((r) => server.close(() => r())));

it('asks the provider once per LLM_CHECK_TTL_MS however often /health is polled', async () => {
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  let clock = 1_000_000;
  const llm = llmIntegration(
    {
      AI_PROVIDER: 'openai-compatible',
      AI_MODEL: 'm1',
      AI_BASE_URL: base,
      AI_API_KEY: '',
      GEMINI_API_KEY: '',
      OPENAI_API_KEY: '',
      ANTHROPIC_API_KEY: '',
    },
    () => clock,
  );
  const signal = new AbortController().signal;
  for (let i = 0; i < 5; i++) expect((await llm.check(signal)).state).toBe('up');
  expect(asked).toBe(1);
  clock += LLM_CHECK_TTL_MS - 1;
  await llm.check(signal);
  expect(asked).toBe(1);
  clock += 1;
  await llm.check(signal);
  expect(asked).toBe(2);
});
