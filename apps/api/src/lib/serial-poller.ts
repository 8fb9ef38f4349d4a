// A background loop that never overlaps itself: `poke()` asks for a run soon (pokes that arrive
// while one is pending merge into it), runs go one after another, and after each run the loop
// sleeps for as long as the run asks before looking again. The audit file writer and the relay
// worker both work this way.
export class SerialPoller {
  private timer: NodeJS.Timeout | undefined;
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
    clearTimeout(this.timer);
    this.chain = this.chain.then(async () => {
      this.queued = false;
      const delay = await this.run();
      if (!this.stopped && !this.queued) this.timer = setTimeout(() => this.poke(), delay);
    });
  }

  /** Resolves when the runs asked for so far have finished. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Stops after the run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.chain;
  }
}
