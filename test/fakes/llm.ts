/**
 * A fake LLM API server on 127.0.0.1 speaking two wire formats, so that the real provider code
 * of the AI SDK runs end to end:
 *
 * - OpenAI-compatible chat completions: `POST {base}/chat/completions` (base e.g. `/v1`),
 *   with `tools` / `tool_calls` / `role: "tool"` messages (non-streaming);
 * - Gemini: `POST /v1beta/models/{model}:generateContent`, with `functionDeclarations`,
 *   `functionCall` and `functionResponse` parts.
 *
 * Each request is recorded with its raw body (to search for leaked secrets) and answered by a
 * script function, which sees the tool names offered and the tool results sent so far.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeLlmRequest {
  readonly api: 'openai' | 'gemini';
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body exactly as received. */
  readonly raw: string;
  readonly body: Record<string, unknown>;
  /** Names of the tools (functions) offered. */
  readonly tools: string[];
  /** Tool results in the conversation, oldest first, as text. */
  readonly toolResults: string[];
  /** The last user message's text. */
  readonly userText: string;
}

export interface FakeLlmReply {
  readonly text?: string;
  readonly calls?: readonly { readonly tool: string; readonly args: Record<string, unknown> }[];
  readonly usage?: { readonly input: number; readonly output: number };
}

/** A reply, or a promise of one: a model that takes its time (held until the test lets it answer). */
export type FakeLlmScript = (req: FakeLlmRequest, index: number) => FakeLlmReply | Promise<FakeLlmReply>;

export interface FakeLlm {
  /** http://127.0.0.1:port */
  readonly url: string;
  readonly requests: FakeLlmRequest[];
  /** The next request gets this HTTP error instead of an answer. */
  failNext(status: number, message: string): void;
  close(): Promise<void>;
}

const OPENAI = /^\/[\w/-]*\/chat\/completions$/;
const GEMINI = /^\/v1beta\/models\/([\w.-]+):generateContent$/;

export async function startFakeLlm(script: FakeLlmScript): Promise<FakeLlm> {
  const requests: FakeLlmRequest[] = [];
  let fault: { status: number; message: string } | undefined;
  let ids = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '').split('?')[0]!;
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return send(400, { error: { message: 'body is not JSON' } });
      }
      const api =
        req.method === 'POST' && OPENAI.test(path)
          ? 'openai'
          : req.method === 'POST' && GEMINI.test(path)
            ? 'gemini'
            : undefined;
      if (!api) return send(404, { error: { message: `no route ${req.method} ${path}` } });
      if (api === 'openai' && body.stream === true)
        return send(400, { error: { message: 'this fake does not stream' } });
      const parsed: FakeLlmRequest = {
        api,
        path,
        headers: req.headers,
        raw,
        body,
        ...(api === 'openai' ? readOpenAi(body) : readGemini(body)),
      };
      requests.push(parsed);
      if (fault) {
        const f = fault;
        fault = undefined;
        return send(
          f.status,
          api === 'openai'
            ? { error: { message: f.message, type: 'server_error' } }
            : { error: { code: f.status, message: f.message, status: 'UNAVAILABLE' } },
        );
      }
      const reply = await script(parsed, requests.length - 1);
      const usage = reply.usage ?? { input: 12, output: 6 };
      if (api === 'openai') {
        const toolCalls = (reply.calls ?? []).map((c) => ({
          id: `call_${++ids}`,
          type: 'function',
          function: { name: c.tool, arguments: JSON.stringify(c.args) },
        }));
        return send(200, {
          id: `chatcmpl-${ids}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: String(body.model ?? 'fake'),
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: reply.text ?? null,
                ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
              },
              finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
            },
          ],
          usage: {
            prompt_tokens: usage.input,
            completion_tokens: usage.output,
            total_tokens: usage.input + usage.output,
          },
        });
      }
      const parts = [
        ...(reply.text !== undefined ? [{ text: reply.text }] : []),
        ...(reply.calls ?? []).map((c) => ({ functionCall: { name: c.tool, args: c.args } })),
      ];
      return send(200, {
        candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
        usageMetadata: {
          promptTokenCount: usage.input,
          candidatesTokenCount: usage.output,
          totalTokenCount: usage.input + usage.output,
        },
        modelVersion: GEMINI.exec(path)![1],
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(status, message) {
      fault = { status, message };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Json = Record<string, unknown>;
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);

function readOpenAi(body: Json): Pick<FakeLlmRequest, 'tools' | 'toolResults' | 'userText'> {
  const messages = arr(body.messages);
  const tools = arr(body.tools).map((t) => String((t.function as Json | undefined)?.name));
  const toolResults = messages
    .filter((m) => m.role === 'tool')
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)));
  const user = messages.filter((m) => m.role === 'user').at(-1);
  const userText =
    typeof user?.content === 'string'
      ? user.content
      : arr(user?.content)
          .map((p) => String(p.text ?? ''))
          .join('');
  return { tools, toolResults, userText };
}

function readGemini(body: Json): Pick<FakeLlmRequest, 'tools' | 'toolResults' | 'userText'> {
  const contents = arr(body.contents);
  const tools = arr(body.tools).flatMap((t) => arr(t.functionDeclarations).map((f) => String(f.name)));
  const parts = contents.flatMap((c) => arr(c.parts).map((p) => ({ role: c.role, part: p })));
  const toolResults = parts
    .filter((p) => p.part.functionResponse)
    .map((p) => {
      const response = (p.part.functionResponse as Json).response as Json | undefined;
      return typeof response?.content === 'string' ? response.content : JSON.stringify(response ?? null);
    });
  const userText =
    parts
      .filter((p) => p.role === 'user' && typeof p.part.text === 'string')
      .map((p) => String(p.part.text))
      .at(-1) ?? '';
  return { tools, toolResults, userText };
}
