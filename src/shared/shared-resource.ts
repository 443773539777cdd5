/*
 * One instance of something per runtime (the mDNS socket, a service
 * watcher), made by the first user and destroyed when the last one leaves.
 */
export interface Lease<T> {
  readonly value: T;
  /** gives the share back; a second call does nothing */
  release(): void;
}

export class SharedResource<T> {
  private current: { value: T; users: number } | undefined;

  constructor(
    private readonly create: () => T,
    private readonly destroy: (value: T) => void,
  ) {}

  /** How many users hold it (0 when it does not exist). */
  get users(): number {
    return this.current?.users ?? 0;
  }

  acquire(): Lease<T> {
    if (!this.current) this.current = { value: this.create(), users: 0 };
    const held = this.current;
    held.users++;
    let released = false;
    return {
      value: held.value,
      release: () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.users === 0 && this.current === held) {
          this.current = undefined;
          this.destroy(held.value);
        }
      },
    };
  }
}
