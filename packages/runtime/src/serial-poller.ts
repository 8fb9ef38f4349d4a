// A background loop that never overlaps itself: `poke()` asks for a run soon (pokes that arrive
// while one is pending merge into it), runs go one after another, and after each run the loop
// sleeps for as long as the run asks before looking again; `wakeIn(ms)` shortens that sleep. The
// session clock, the live log reader, the audit file writer, the relay worker and the gateway
// agent's reconciler all work this way.
export class SerialPoller {
  private timer: NodeJS.Timeout | undefined;
  /** When the sleeping timer fires (epoch ms), if one is set. */
  private timerAt = Infinity;
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private stopped = true;

  /** `run` returns how many milliseconds to wait before the next run. */
  constructor(private readonly run: () => Promise<number>) {}

  /** False once `stop()` was called: a long run checks it to end early. */
  get running(): boolean {
    return !this.stopped;
  }

  start(): void {
    this.stopped = false;
    this.poke();
  }

  poke(): void {
    if (this.stopped || this.queued) return;
    this.queued = true;
    this.clearTimer();
    this.chain = this.chain.then(async () => {
      this.queued = false;
      const delay = await this.run();
      if (!this.stopped && !this.queued) this.arm(delay);
    });
  }

  /** Makes the next run happen within `ms`, unless one is due sooner already. */
  wakeIn(ms: number): void {
    if (this.stopped || this.queued) return;
    const at = Date.now() + Math.max(0, ms);
    if (at < this.timerAt) this.arm(ms);
  }

  /** Resolves when the runs asked for so far have finished. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Stops after the run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.chain;
  }

  private arm(ms: number): void {
    this.clearTimer();
    const delay = Math.max(0, ms);
    this.timerAt = Date.now() + delay;
    this.timer = setTimeout(() => {
      this.timerAt = Infinity;
      this.poke();
    }, delay);
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
