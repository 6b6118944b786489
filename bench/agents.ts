// Issue 14's agent figures end to end: the real `teleops start` process running SESSIONS
// Claude sessions at once (the fake `claude` CLI, streaming stamped lines) into one group chat
// of the fake Bot API, which enforces Telegram's group limit. How far card edits are coalesced,
// whether any write got a 429, how old the freshest line on a card is when its edit arrives,
// and the bot's CPU per streamed event against parsing the same events without teleops.
// BENCH_AGENT_SESSIONS and BENCH_AGENT_EVENTS make it smaller (default 20 sessions × 100 events);
// BENCH_AGENT_GROUP_PER_MINUTE=0 lifts the group limit on both sides, to see the bot's own delay.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeBotApi } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import type { Proc } from '../test/support/process.js';
import { startBot } from './bot.js';
import { clockTicks, procCpu } from './proc.js';
import { percentile, sortNumbers, type Report } from './report.js';

const ADMIN = 4243;
const GROUP = -1004243;
const SESSIONS = Number(process.env.BENCH_AGENT_SESSIONS ?? 20);
const EVENTS = Number(process.env.BENCH_AGENT_EVENTS ?? 100);
const EVERY_MS = 50;
/** Telegram's limit on messages into one group, which the fake enforces and the bot keeps to (0: none). */
const GROUP_PER_MINUTE = Number(process.env.BENCH_AGENT_GROUP_PER_MINUTE ?? 20);
/** No phase may hang the run: at 20 writes a minute, every card's last edit can take minutes. */
const WAIT_LIMIT_MS = Math.max(300_000, SESSIONS * 12_000);
const FAKES = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'test', 'fakes', 'agents');
/** A streamed line as a card shows it: its index, the session's prompt (its name), when it was printed. */
const TICK = /tick (\d+) (s\d+) @\d{13}/g;

/** The baseline: the lines the fake CLI prints for the same events, split and parsed, in this process. */
function parseBaseline(events: number): number {
  const line = (i: number) =>
    JSON.stringify({
      type: 'stream_event',
      event: {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: `tick ${i} @${Date.now()}\n` },
      },
      parent_tool_use_id: null,
      uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      session_id: 'sess-bench',
    });
  const text = Array.from({ length: events }, (_, i) => line(i)).join('\n') + '\n';
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.cpuUsage();
    let chars = 0;
    for (const l of text.split('\n')) {
      if (l === '') continue;
      const m = JSON.parse(l) as { event: { delta: { text: string } } };
      chars += m.event.delta.text.length;
    }
    const used = process.cpuUsage(t0);
    if (chars === 0) throw new Error('nothing parsed');
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  return best / events;
}

export async function benchAgents(report: Report): Promise<void> {
  const hz = clockTicks();
  const fake = new FakeBotApi();
  await fake.start();
  fake.createUser({ id: ADMIN });
  fake.createChat({ id: GROUP, type: 'supergroup', title: 'agents' });
  if (GROUP_PER_MINUTE > 0) fake.enforceLimits({ perGroupPerMinute: GROUP_PER_MINUTE });
  const dir = tempDir('teleops-bench-agents-');
  const root = join(dir.path, 'root');
  mkdirSync(root);
  const script = join(dir.path, 'script.json');
  writeFileSync(
    script,
    JSON.stringify({
      sessionId: 'sess-bench',
      turns: [{ steps: [{ stream: { count: EVENTS, everyMs: EVERY_MS, record: true } }, { text: 'end of stream\n' }] }],
    }),
  );
  let proc: Proc | undefined;
  try {
    proc = await startBot(fake, join(dir.path, 'state'), [ADMIN], {
      ADMIN_USER_IDS: String(ADMIN),
      AUTHORIZED_CHAT_IDS: String(GROUP),
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
      RATE_LIMIT_PER_MINUTE: '1000',
      TELEGRAM_CHAT_PER_MINUTE: String(GROUP_PER_MINUTE),
      AGENT_ENABLED: 'true',
      AGENT_ROOTS: root,
      AGENT_MAX_SESSIONS: String(Math.max(5, SESSIONS)),
      AGENT_CLAUDE_PATH: join(FAKES, 'claude'),
      ANTHROPIC_API_KEY: 'sk-ant-bench-key-0123456789abcdef',
      FAKE_AGENT_SCRIPT: script,
      FAKE_AGENT_RECORD: join(dir.path, 'record.jsonl'),
    });
    const pid = proc.child.pid!;
    const names = Array.from({ length: SESSIONS }, (_, i) => `s${i}`);
    const cpu0 = procCpu(pid, hz)[0];
    const calls0 = fake.calls.length;
    for (const n of names) fake.sendText({ from: ADMIN, chat: GROUP, text: `/agent new claude ${n} ${root} ${n}` });
    const finished = (n: string) =>
      fake.messages(GROUP).some((m) => m.text?.startsWith(`✅ ${n}`) && m.text.includes('end of stream'));
    await fake.waitFor(() => names.every(finished), WAIT_LIMIT_MS, 'every card to show its turn done');
    const cpu = procCpu(pid, hz)[0] - cpu0;

    const writes = fake.calls.slice(calls0).filter((c) => c.chat_id === GROUP && c.status === 200);
    const edits = writes.filter((c) => c.method === 'editMessageText');
    const latencies = eventToCard(writes, join(dir.path, 'record.jsonl'));
    const events = SESSIONS * EVENTS;
    const perEvent = cpu / events;
    const baseline = parseBaseline(events);
    const paced = `${SESSIONS} sessions × ${EVENTS} events, ${EVERY_MS} ms apart; group limit ${GROUP_PER_MINUTE}/min`;
    report('agents.streamed_events', events, 'events', paced);
    report(
      'agents.card_edits',
      edits.length,
      'edits',
      `${(events / Math.max(1, edits.length)).toFixed(1)} events per edit`,
    );
    report('agents.http_429', fake.calls.filter((c) => c.status === 429).length, 'answers', 'goal ≤ 0; whole run');
    report('agents.event_to_card.p50', percentile(latencies, 50), 's', `${latencies.length}/${events} events shown`);
    report('agents.event_to_card.p99', percentile(latencies, 99), 's', `max ${(latencies.at(-1) ?? NaN).toFixed(3)} s`);
    report(
      'agents.cpu_per_event',
      perEvent * 1e6,
      'µs',
      `the bot's own CPU over the run / events (${cpu.toFixed(2)} s)`,
    );
    report(
      'agents.cpu_per_event.baseline',
      baseline * 1e6,
      'µs',
      'splitting and parsing the same JSON lines in-process',
    );
    report('agents.cpu_per_event.ratio', perEvent / baseline, '×', 'bot / baseline');
  } finally {
    await proc?.stop();
    await fake.stop();
    dir.remove();
  }
}

/**
 * For each streamed event, the seconds from when the fake printed it to the first write at the
 * fake Bot API whose card shows it or a later line of the same session (edits are coalesced:
 * a card may skip lines, never show them late).
 */
function eventToCard(writes: readonly { at: number; params: Record<string, unknown> }[], record: string): number[] {
  const shown = new Map<string, { at: number; upTo: number }[]>();
  for (const w of writes) {
    for (const m of String(w.params.text ?? '').matchAll(TICK)) {
      const list = shown.get(m[2]!) ?? [];
      list.push({ at: w.at, upTo: Number(m[1]) });
      shown.set(m[2]!, list);
    }
  }
  const ticks = readFileSync(record, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"tick"'))
    .map((l) => JSON.parse(l) as { prompt: string; i: number; at: number });
  return sortNumbers(
    ticks.flatMap((t) => {
      const first = (shown.get(t.prompt) ?? []).filter((s) => s.upTo >= t.i && s.at >= t.at).map((s) => s.at);
      return first.length > 0 ? [(Math.min(...first) - t.at) / 1000] : [];
    }),
  );
}
