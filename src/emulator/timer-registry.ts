/**
 * Every timer the emulator starts goes through here, grouped by owner (a channel id, a playback
 * id), so hanging up a channel clears exactly its timers and stop() clears all: nothing keeps the
 * process alive after the emulator stops.
 */
export class TimerRegistry {
  readonly #byOwner = new Map<string, Set<NodeJS.Timeout>>();

  /** Runs `fn` after `ms` unless the owner's timers are cleared first. */
  set(owner: string, ms: number, fn: () => void): NodeJS.Timeout {
    let set = this.#byOwner.get(owner);
    if (!set) {
      set = new Set();
      this.#byOwner.set(owner, set);
    }
    const owned = set;
    const timer = setTimeout(
      () => {
        owned.delete(timer);
        if (owned.size === 0 && this.#byOwner.get(owner) === owned) this.#byOwner.delete(owner);
        fn();
      },
      Math.max(0, ms),
    );
    owned.add(timer);
    return timer;
  }

  clear(owner: string, timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this.#byOwner.get(owner)?.delete(timer);
  }

  clearOwner(owner: string): void {
    const set = this.#byOwner.get(owner);
    if (!set) return;
    for (const timer of set) clearTimeout(timer);
    this.#byOwner.delete(owner);
  }

  clearAll(): void {
    for (const owner of [...this.#byOwner.keys()]) this.clearOwner(owner);
  }

  /** Number of pending timers (for leak checks in tests). */
  get pending(): number {
    let n = 0;
    for (const set of this.#byOwner.values()) n += set.size;
    return n;
  }
}
