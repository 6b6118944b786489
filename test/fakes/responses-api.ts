/**
 * A fake OpenAI Responses API on 127.0.0.1 (`POST {base}/responses`, answered as an SSE
 * stream), for the real `codex` binary pointed at it through a custom model provider. Each
 * request is recorded; a script decides the reply: a function call, or a streamed message.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ResponsesRequest {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
  /** Names of the function tools offered. */
  readonly tools: string[];
  /** The newest item of the conversation (the prompt, or a tool's output). */
  readonly last: Record<string, unknown> | undefined;
  /** The function_call_output items sent back so far, oldest first. */
  readonly outputs: { call_id: string; output: unknown }[];
}

export type ResponsesReply =
  | {
      readonly call: {
        readonly name: string;
        /** A tool of a namespace (e.g. multi_agent_v1's spawn_agent). */
        readonly namespace?: string;
        readonly args: Record<string, unknown>;
      };
    }
  | { readonly text: string };

export interface FakeResponses {
  /** e.g. http://127.0.0.1:1234/v1 */
  readonly baseUrl: string;
  readonly requests: ResponsesRequest[];
  close(): Promise<void>;
}

const list = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];

export async function startFakeResponses(
  script: (req: ResponsesRequest, index: number) => ResponsesReply,
): Promise<FakeResponses> {
  const requests: ResponsesRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      if (req.method !== 'POST' || !path.endsWith('/responses')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}` } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const request: ResponsesRequest = {
        path,
        authorization: req.headers.authorization,
        body,
        tools: list(body.tools).map((t) => String(t.name)),
        last: list(body.input).at(-1),
        outputs: list(body.input)
          .filter((i) => i.type === 'function_call_output')
          .map((i) => ({ call_id: String(i.call_id), output: i.output })),
      };
      const index = requests.push(request) - 1;
      const reply = script(request, index);
      const id = `resp_${index}`;
      const events: Record<string, unknown>[] = [{ type: 'response.created', response: { id } }];
      if ('call' in reply) {
        const item = {
          type: 'function_call',
          id: `fc_${index}`,
          call_id: `call_${index}`,
          name: reply.call.name,
          ...(reply.call.namespace ? { namespace: reply.call.namespace } : {}),
          arguments: JSON.stringify(reply.call.args),
        };
        events.push({ type: 'response.output_item.done', output_index: 0, item });
      } else {
        const msg = { type: 'message', role: 'assistant', id: `msg_${index}` };
        events.push(
          { type: 'response.output_item.added', output_index: 0, item: { ...msg, content: [] } },
          { type: 'response.output_text.delta', output_index: 0, content_index: 0, item_id: msg.id, delta: reply.text },
          {
            type: 'response.output_item.done',
            output_index: 0,
            item: { ...msg, content: [{ type: 'output_text', text: reply.text }] },
          },
        );
      }
      const usage = { input_tokens: 10, output_tokens: 5, total_tokens: 15 };
      events.push({ type: 'response.completed', response: { id, usage } });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const e of events) res.write(`event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
