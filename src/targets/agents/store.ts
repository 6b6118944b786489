/**
 * Agent sessions in SQLite, so that a restart of teleops continues the same conversations
 * (the agent's own session id is kept for `resume`), the day's spending survives too, and
 * the transcript can be sent as a document. Transcript text is stored redacted.
 */
import type { Db } from '../../core/sqlite.js';

/** This target's tables, in order; applied once each by the store's migration runner. */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE agent_sessions (
    name          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('claude','codex')),
    dir           TEXT NOT NULL,
    session_id    TEXT,              -- the agent's own id, for resume
    state         TEXT NOT NULL,
    turns         INTEGER NOT NULL DEFAULT 0,
    cost_usd      REAL NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    chat_id       INTEGER,           -- where it was started, for its card
    created_at    INTEGER NOT NULL,  -- ms since epoch
    updated_at    INTEGER NOT NULL
  );
  CREATE TABLE agent_spend (
    day      TEXT NOT NULL,          -- UTC date, YYYY-MM-DD
    name     TEXT NOT NULL,          -- kept when the session is ended, so ending one does not refill the budget
    cost_usd REAL NOT NULL DEFAULT 0,
    tokens   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, name)
  );
  CREATE TABLE agent_transcript (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    name  TEXT NOT NULL,
    at    INTEGER NOT NULL,
    kind  TEXT NOT NULL CHECK (kind IN ('prompt','answer','tool','decision','result','error')),
    text  TEXT NOT NULL              -- redacted
  );
  CREATE INDEX agent_transcript_name ON agent_transcript (name, id);
  `,
];

/** MIGRATIONS in PostgreSQL's dialect (DATABASE_URL). */
export const POSTGRES: readonly string[] = [
  `
  CREATE TABLE agent_sessions (
    name          text PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('claude','codex')),
    dir           text NOT NULL,
    session_id    text,
    state         text NOT NULL,
    turns         bigint NOT NULL DEFAULT 0,
    cost_usd      double precision NOT NULL DEFAULT 0,
    input_tokens  bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    chat_id       bigint,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL
  );
  CREATE TABLE agent_spend (
    day      text NOT NULL,
    name     text NOT NULL,
    cost_usd double precision NOT NULL DEFAULT 0,
    tokens   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, name)
  );
  CREATE TABLE agent_transcript (
    id    bigserial PRIMARY KEY,
    name  text NOT NULL,
    at    bigint NOT NULL,
    kind  text NOT NULL CHECK (kind IN ('prompt','answer','tool','decision','result','error')),
    text  text NOT NULL
  );
  CREATE INDEX agent_transcript_name ON agent_transcript (name, id);
  `,
];

export type AgentKind = 'claude' | 'codex';
export const AGENT_KINDS: readonly AgentKind[] = ['claude', 'codex'];
export type AgentState = 'idle' | 'working' | 'waiting' | 'done' | 'failed' | 'interrupted';
export type TranscriptKind = 'prompt' | 'answer' | 'tool' | 'decision' | 'result' | 'error';

export interface AgentSessionRow {
  readonly name: string;
  readonly kind: AgentKind;
  readonly dir: string;
  readonly sessionId?: string;
  readonly state: AgentState;
  readonly turns: number;
  readonly costUsd: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly chatId?: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface Raw {
  name: string;
  kind: AgentKind;
  dir: string;
  session_id: string | null;
  state: AgentState;
  turns: number;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  chat_id: number | null;
  created_at: number;
  updated_at: number;
}

const fromRaw = (r: Raw): AgentSessionRow => ({
  name: r.name,
  kind: r.kind,
  dir: r.dir,
  ...(r.session_id !== null ? { sessionId: r.session_id } : {}),
  state: r.state,
  turns: r.turns,
  costUsd: r.cost_usd,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  ...(r.chat_id !== null ? { chatId: r.chat_id } : {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export class AgentSessionRepo {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      all: db.prepare('SELECT * FROM agent_sessions ORDER BY name'),
      get: db.prepare('SELECT * FROM agent_sessions WHERE name = ?'),
      count: db.prepare('SELECT count(*) AS n FROM agent_sessions'),
      insert: db.prepare(
        `INSERT INTO agent_sessions (name, kind, dir, state, chat_id, created_at, updated_at)
         VALUES (@name, @kind, @dir, 'idle', @chatId, @at, @at)`,
      ),
      state: db.prepare('UPDATE agent_sessions SET state = ?, updated_at = ? WHERE name = ?'),
      sessionId: db.prepare('UPDATE agent_sessions SET session_id = ?, updated_at = ? WHERE name = ?'),
      turn: db.prepare(
        `UPDATE agent_sessions SET turns = turns + 1, cost_usd = cost_usd + @cost, input_tokens = input_tokens + @input,
         output_tokens = output_tokens + @output, updated_at = @at WHERE name = @name`,
      ),
      spend: db.prepare(
        `INSERT INTO agent_spend (day, name, cost_usd, tokens) VALUES (@day, @name, @cost, @tokens)
         ON CONFLICT (day, name) DO UPDATE
           SET cost_usd = agent_spend.cost_usd + excluded.cost_usd, tokens = agent_spend.tokens + excluded.tokens`,
      ),
      spentDay: db.prepare('SELECT coalesce(sum(cost_usd), 0) AS c FROM agent_spend WHERE day = ?'),
      spentOne: db.prepare('SELECT coalesce(sum(cost_usd), 0) AS c FROM agent_spend WHERE day = ? AND name = ?'),
      remove: db.prepare('DELETE FROM agent_sessions WHERE name = ?'),
      addLine: db.prepare('INSERT INTO agent_transcript (name, at, kind, text) VALUES (?, ?, ?, ?)'),
      lines: db.prepare('SELECT at, kind, text FROM agent_transcript WHERE name = ? ORDER BY id'),
      dropLines: db.prepare('DELETE FROM agent_transcript WHERE name = ?'),
    };
  }

  all(): AgentSessionRow[] {
    return (this.q.all.all() as Raw[]).map(fromRaw);
  }

  get(name: string): AgentSessionRow | undefined {
    const r = this.q.get.get(name) as Raw | undefined;
    return r ? fromRaw(r) : undefined;
  }

  count(): number {
    return (this.q.count.get() as { n: number }).n;
  }

  create(s: { name: string; kind: AgentKind; dir: string; chatId?: number; at: number }): void {
    this.q.insert.run({ name: s.name, kind: s.kind, dir: s.dir, chatId: s.chatId ?? null, at: s.at });
  }

  setState(name: string, state: AgentState, at: number): void {
    this.q.state.run(state, at, name);
  }

  setSessionId(name: string, id: string, at: number): void {
    this.q.sessionId.run(id, at, name);
  }

  /** One finished prompt: its cost and tokens count for the session and for the day. */
  addTurn(name: string, u: { costUsd: number; inputTokens: number; outputTokens: number }, at: number): void {
    this.db.transaction(() => {
      this.q.turn.run({ name, cost: u.costUsd, input: u.inputTokens, output: u.outputTokens, at });
      this.q.spend.run({ day: utcDay(at), name, cost: u.costUsd, tokens: u.inputTokens + u.outputTokens });
    })();
  }

  spentOn(day: string, name?: string): number {
    const r = (name === undefined ? this.q.spentDay.get(day) : this.q.spentOne.get(day, name)) as { c: number };
    return r.c;
  }

  /** Forgets a session and its transcript; what it spent today still counts. */
  remove(name: string): void {
    this.db.transaction(() => {
      this.q.remove.run(name);
      this.q.dropLines.run(name);
    })();
  }

  addLine(name: string, kind: TranscriptKind, text: string, at: number): void {
    this.q.addLine.run(name, at, kind, text);
  }

  lines(name: string): { at: number; kind: TranscriptKind; text: string }[] {
    return this.q.lines.all(name) as { at: number; kind: TranscriptKind; text: string }[];
  }
}
