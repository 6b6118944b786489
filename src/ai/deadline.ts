/**
 * The time limit of one request, which stands still while a person decides on an approval
 * card: the LLM's time is bounded, a human's is bounded by the card's own expiry.
 */
export class Deadline {
  private readonly ctl = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private remainingMs: number;
  private startedAt = 0;
  private paused = 0;

  constructor(
    ms: number,
    private readonly now: () => number = Date.now,
  ) {
    this.remainingMs = ms;
    this.arm();
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  get expired(): boolean {
    return this.ctl.signal.aborted;
  }

  /** Pauses may nest (several approvals in one step); the clock runs again when all have ended. */
  pause(): void {
    if (this.paused++ > 0 || this.expired) return;
    clearTimeout(this.timer);
    this.remainingMs -= this.now() - this.startedAt;
  }

  resume(): void {
    if (this.paused === 0 || --this.paused > 0 || this.expired) return;
    this.arm();
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    this.startedAt = this.now();
    this.timer = setTimeout(() => this.ctl.abort(new DeadlineExceeded()), Math.max(0, this.remainingMs));
    this.timer.unref();
  }
}

export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
  constructor() {
    super('the request took too long');
  }
}
