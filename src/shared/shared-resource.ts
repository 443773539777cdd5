/*
 * One instance of something per runtime (the mDNS socket, a service
 * watcher), made by the first user and destroyed when the last one leaves.
 */
export interface Lease<T> {
  readonly value: T;
  /** gives the share back; a second call does nothing */
  release(): void;
}

interface Held<T> {
  value: T;
  users: number;
}

/** One user's share: a class rather than a closure, since each session holds one or two for as long as it runs. */
class Share<T> implements Lease<T> {
  private released = false;

  constructor(
    private readonly resource: SharedResource<T>,
    private readonly held: Held<T>,
  ) {}

  get value(): T {
    return this.held.value;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.resource.giveBack(this.held);
  }
}

export class SharedResource<T> {
  private current: Held<T> | undefined;

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
    this.current.users++;
    return new Share(this, this.current);
  }

  /** @internal a Share's release */
  giveBack(held: Held<T>): void {
    held.users--;
    if (held.users === 0 && this.current === held) {
      this.current = undefined;
      this.destroy(held.value);
    }
  }
}
