/**
 * A run of drops of one kind (size cap, age limit, failed writes): logged when it starts and when it ends, with the
 * count in between, so that a long outage produces two log lines rather than one per message.
 */
export interface EpisodeHooks {
  started(firstDrops: number): void;
  ended(dropped: number): void;
}

export class DropEpisode {
  private activeSince: number | undefined;
  private dropped = 0;

  constructor(private readonly hooks: EpisodeHooks) {}

  get active(): boolean {
    return this.activeSince !== undefined;
  }

  /** Counts drops; the first call of an episode logs its start (even with 0 drops, for failures without loss). */
  record(drops: number, now: number): void {
    if (this.activeSince === undefined) {
      this.activeSince = now;
      this.dropped = drops;
      this.hooks.started(drops);
      return;
    }
    this.dropped += drops;
  }

  end(): void {
    if (this.activeSince === undefined) return;
    this.activeSince = undefined;
    this.hooks.ended(this.dropped);
    this.dropped = 0;
  }
}
