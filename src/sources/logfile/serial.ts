/**
 * One async step at a time, for a follower's reads: a call while a run is
 * going shares that run and asks for one more pass after it, so a burst of
 * watch events costs one extra read loop, never parallel reads. A `verify`
 * request carries over to the next pass.
 */
export class SerialRun {
  private running: Promise<void> | null = null;
  private again = false;
  private againVerify = false;

  constructor(
    private readonly step: (verify: boolean) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    /** No further pass once this is true. */
    private readonly stopped: () => boolean,
  ) {}

  /** The run going on now, or null. */
  get current(): Promise<void> | null {
    return this.running;
  }

  run(verify: boolean): Promise<void> {
    this.againVerify ||= verify;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const verify = this.againVerify;
      this.againVerify = false;
      try {
        await this.step(verify);
      } catch (err) {
        this.onError(err);
      }
    } while (this.again && !this.stopped());
  }
}
