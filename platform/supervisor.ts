import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger';

/** A child process the launcher can watch and start again on the same ports and data dir. */
export interface Restartable {
  /** Resolves when the child now running exits (for whatever reason). */
  exited(): Promise<void>;
  /** Starts the child again and resolves once it serves; rejects when it does not come up. */
  restart(): Promise<void>;
}

export interface SupervisorOptions {
  /** Waits before each restart attempt; one more death than there are entries gives up. */
  backoffMs?: number[];
  /** A child that stayed up this long starts over with the first backoff. */
  stableMs?: number;
  log: Logger;
  /** Called once when the child cannot be brought back. */
  onGiveUp: (err: Error) => void;
}

export const DEFAULT_BACKOFF_MS = [250, 1_000, 2_000, 4_000, 8_000];

/**
 * Restarts a child that dies on its own (SIGKILL, OOM killer, crash) with backoff. Its clients
 * (knex pool, Temporal connections) reconnect by themselves to the same address. When it cannot
 * be brought back — or keeps dying right after each restart — `onGiveUp` lets the launcher exit
 * non-zero, so the service manager restarts the whole unit.
 */
export class Supervisor {
  private stopped = false;
  private restarting: Promise<unknown> = Promise.resolve();
  private readonly backoff: number[];
  private readonly stableMs: number;

  constructor(
    private readonly name: string,
    private readonly child: Restartable,
    private readonly opts: SupervisorOptions,
  ) {
    this.backoff = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.stableMs = opts.stableMs ?? 60_000;
    void this.watch();
  }

  /** No more restarts; waits for one in progress, so the caller can then stop the child for good. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.restarting.catch(() => undefined);
  }

  private async watch(): Promise<void> {
    let attempt = 0;
    let upSince = Date.now();
    for (;;) {
      await this.child.exited();
      if (this.stopped) return;
      if (Date.now() - upSince >= this.stableMs) attempt = 0;
      this.opts.log.error({ child: this.name }, `${this.name} exited unexpectedly; restarting it`);
      const ok = await this.bringBack(attempt);
      if (this.stopped) return;
      if (ok === undefined) {
        this.opts.onGiveUp(
          new Error(`${this.name} exited and could not be restarted (${this.backoff.length} attempts)`),
        );
        return;
      }
      attempt = ok + 1;
      upSince = Date.now();
    }
  }

  /** Tries from backoff[attempt] on; returns the attempt that worked, undefined when none did. */
  private async bringBack(first: number): Promise<number | undefined> {
    for (let attempt = first; attempt < this.backoff.length; attempt++) {
      await sleep(this.backoff[attempt]!);
      if (this.stopped) return undefined;
      const started = Date.now();
      const restart = this.child.restart();
      this.restarting = restart;
      try {
        await restart;
        this.opts.log.info(
          { child: this.name, attempt: attempt + 1, ms: Date.now() - started },
          `${this.name} restarted`,
        );
        return attempt;
      } catch (err) {
        this.opts.log.warn({ child: this.name, attempt: attempt + 1, err }, `${this.name} restart failed`);
      }
    }
    return undefined;
  }
}
