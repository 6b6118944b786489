import type { Result } from './result.js';

/**
 * Something a watcher noticed that an operator should hear about without asking
 * (a container crashed, a pod is crash-looping, a terminal waits for input).
 * Targets raise alerts; the alert router in core coalesces, silences and delivers them.
 */
export interface Alert {
  /** The target kind that raised it: "docker", "kubernetes", "tmux". */
  readonly source: string;
  /**
   * What the alert is about, for coalescing: repeated alerts with the same key within the
   * cooldown are counted instead of sent (e.g. "docker:container:api:die").
   */
  readonly key: string;
  /**
   * Where it happened, as the target's scoping names places (a host, "prod/payments", a
   * session): a scoped chat gets the alert only when its scope holds this place.
   */
  readonly place?: string;
  /** The message: text, last log lines and buttons; each transport redacts it as it shows it. */
  readonly result: Result;
  /** About teleops' own evidence (the audit log): /silence does not mute it. */
  readonly alarm?: boolean;
}

export interface AlertSink {
  raise(alert: Alert): void;
}
