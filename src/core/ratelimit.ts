/**
 * Tokens short of one that still count as one: the refill is a float, and waiting exactly the
 * retryAfterMs given can leave 0.9999999999 — a person told "in 9 s" is not refused at 9 s.
 */
const FLOAT_SLACK = 1e-9;

export type Charge =
  | { ok: true }
  | { ok: false; retryAfterMs: number; /** first refusal since the bucket last had a token */ first: boolean };

interface Bucket {
  tokens: number;
  at: number;
  refusing: boolean;
}

/**
 * Token bucket per key: `perMinute` capacity, refilled continuously. Only authorized
 * operators are charged, so the map is bounded by the configured users.
 */
export class RateLimiter {
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
    b.tokens = Math.min(this.perMinute, b.tokens + (t - b.at) * this.perMs);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1 - FLOAT_SLACK) {
      b.tokens -= 1;
      b.refusing = false;
      return { ok: true };
    }
    const first = !b.refusing;
    b.refusing = true;
    return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) / this.perMs), first };
  }
}
