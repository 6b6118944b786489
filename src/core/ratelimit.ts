/**
 * Tokens short of one that still count as one: the refill is a float, and waiting exactly the
 * retryAfterMs given can leave 0.9999999999 — a person told "in 9 s" is not refused at 9 s.
 */
export const FLOAT_SLACK = 1e-9;

export type Charge =
  | { ok: true }
  | { ok: false; retryAfterMs: number; /** first refusal since the bucket last had a token */ first: boolean };

/** Charges a request to a key's bucket: in this process, or shared by replicas (store/rate-buckets.ts). */
export interface Limiter {
  take(key: string): Charge;
}

/** Milliseconds until a bucket holding `tokens`, refilled `perMs` a millisecond, has one again. */
export const retryAfterMs = (tokens: number, perMs: number): number => Math.ceil((1 - tokens) / perMs);

interface Bucket {
  tokens: number;
  at: number;
  refusing: boolean;
}

/**
 * Token bucket per key: `perMinute` capacity, refilled continuously. Only authorized
 * operators are charged, so the map is bounded by the configured users.
 */
export class RateLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
  }

  take(key: string): Charge {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: t, refusing: false };
    // A clock set back (by NTP, or another replica's behind) refills nothing.
    b.tokens = Math.min(this.perMinute, b.tokens + Math.max(0, t - b.at) * this.perMs);
    b.at = Math.max(b.at, t);
    this.buckets.set(key, b);
    if (b.tokens >= 1 - FLOAT_SLACK) {
      b.tokens -= 1;
      b.refusing = false;
      return { ok: true };
    }
    const first = !b.refusing;
    b.refusing = true;
    return { ok: false, retryAfterMs: retryAfterMs(b.tokens, this.perMs), first };
  }
}
