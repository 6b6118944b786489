import type { AnyAction, CommandSpec } from './action.js';
import type { AlertSink } from './alerts.js';
import type { Integration } from './health.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { AskOnBehalf } from './on-behalf.js';
import type { Redactor } from './redact.js';
import type { Result } from './result.js';
import type { Scoping } from './scopes.js';
import type { SettingRows, SettingValues } from './settings.js';
import type { Db } from './sqlite.js';

/** A capability plugged into the app: its actions, its health, and anything it runs in the background. */
export interface Target {
  readonly actions: readonly AnyAction[];
  readonly integration?: Integration;
  /** Live cards (results with a `card` key) as they change, for transports to edit in place. */
  onCard?(listener: (card: Result) => void): () => void;
  /** Every live card as it is now, for a transport that lays them out anew. */
  cards?(): Result[];
  start?(): Promise<void>;
  /** Ends what it shows live (follows), while transports can still show their last cards. */
  endLive?(): void;
  stop?(): Promise<void>;
}

/** A target the settings switch off: /status and doctor show it as disabled, with this reason. */
export interface Disabled {
  readonly disabled: string;
}

export const disabled = (reason: string): Disabled => ({ disabled: reason });

export interface TargetEnv<C = Readonly<Record<string, unknown>>> {
  /** Every setting's value: the module's own rows typed, any other one by name. */
  readonly config: C & Readonly<Record<string, unknown>>;
  readonly alerts: AlertSink;
  readonly log: Logger;
  /** The database, with the module's migrations applied. */
  readonly db: Db;
  /** What a target searches or cuts must be redacted first (a search must not reveal what is hidden). */
  readonly redactor: Redactor;
  /** Where a target adds metrics of its own (`teleops_<target>_…`); absent in a dry build (doctor). */
  readonly metrics?: Metrics;
  /**
   * Asks a person, through the one approval mechanism, to approve one of the target's own
   * actions on someone's behalf (an agent's tool call). Absent where nobody can be asked (doctor).
   */
  readonly approve?: AskOnBehalf;
}

/** A target could not be set up from the settings (e.g. K8S_CONTEXTS names a missing context). */
export class SetupError extends Error {
  override readonly name = 'SetupError';
}

/**
 * An AI diagnosis of what one of the target's read actions shows, spelled like the target's
 * own commands ("/<target> summary <subject> [lines]"). It exists only where its read does.
 */
export interface AiSummary {
  /** The action's name, e.g. "ai.<target>-summary". */
  readonly name: string;
  readonly summary: string;
  /** The parameter naming what is summarized ("session"); also the audit subject's noun. */
  readonly param: string;
  /** Heading of the answer ("Session"). */
  readonly label: string;
  readonly command: CommandSpec;
  /** How the LLM is told what it reads ("terminal session api"). */
  readonly what: (subject: string) => string;
  /** The read action that feeds it, and its params for a subject and a number of lines. */
  readonly read: {
    readonly action: string;
    readonly params: (subject: string, lines: number) => Record<string, unknown>;
  };
}

/**
 * A target, as one folder under `src/targets/` exports it: everything the app, config, store,
 * doctor, help and the AI prompt need to know about it. Adding a target is one such module
 * plus one line in the module list.
 */
export interface TargetModule<S extends SettingRows = SettingRows> {
  /** The target kind its actions name, its integration's name, and its migrations' record. */
  readonly name: string;
  readonly settings: S;
  /** SQL, applied in order and recorded per module; append only, a released step is never edited. */
  readonly migrations?: readonly string[];
  /** The same steps in PostgreSQL's dialect, for DATABASE_URL. */
  readonly postgres?: readonly string[];
  /** What `teleops doctor` suggests when its integration is down. */
  readonly fix?: string;
  /** What the AI assistant helps with here, as a plural noun phrase ("Docker containers"). */
  readonly prompt?: string;
  readonly summaries?: readonly AiSummary[];
  /** How a chat's scope names its places (SCOPES); without it, a scope grants all of it or nothing. */
  readonly scope?: Scoping;
  /** Its live cards may get places of their own where a transport offers them (`/<name> topics on|off`). */
  readonly topics?: { readonly summary: string };
  /**
   * Builds the target from the settings: `disabled(reason)` when they switch it off, null when
   * it should not appear at all. Starts nothing. May be async, so heavy libraries load only when needed.
   */
  create(env: TargetEnv<SettingValues<S>>): Target | Disabled | null | Promise<Target | Disabled | null>;
}

/** Keeps a module's settings types inside its definition. */
export const defineTarget = <const S extends SettingRows>(m: TargetModule<S>): TargetModule<S> => m;

/**
 * A module's target from the settings (any object of them, e.g. the app's config); one the
 * settings switch off is only its "disabled" health line, the same for every target.
 */
export async function buildTarget(
  m: TargetModule,
  env: Omit<TargetEnv, 'config'> & { readonly config: object },
): Promise<Target | null> {
  const t = await m.create({ ...env, config: env.config as Readonly<Record<string, unknown>> });
  if (t === null || !('disabled' in t)) return t;
  const detail = t.disabled;
  return { actions: [], integration: { name: m.name, check: async () => ({ state: 'disabled', detail }) } };
}
