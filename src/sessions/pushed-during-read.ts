/**
 * A read that was out when a push arrived is older than that push for the
 * fields the push carried: the device answered the read before, or about
 * when, it sent the push. Laid over the session's state as it is, the read's
 * reply would put back what the push had just changed, and nothing would
 * correct it until the next read, a minute away while push flows. So the
 * pushes that arrive while a read is out are gathered here and laid over the
 * read's reply. A device's reads never overlap (its queue runs one request
 * at a time), so one window per session is enough.
 */
export class PushedDuringRead<S> {
  private reading = false;
  private pushed: S | undefined;

  /** `merge(under, over)`: `under` with the fields `over` carries laid over it. */
  constructor(private readonly merge: (under: S, over: S) => S) {}

  /** A read goes out. */
  start(): void {
    this.reading = true;
    this.pushed = undefined;
  }

  /** A push arrived (and was applied): kept while a read is out. */
  note(push: S): void {
    if (this.reading) this.pushed = this.pushed === undefined ? push : this.merge(this.pushed, push);
  }

  /** The read ended with `reply`: the reply with the pushes of its time laid over it; `reply` itself when none came. */
  finish(reply: S): S {
    const pushed = this.pushed;
    this.stop();
    return pushed === undefined ? reply : this.merge(reply, pushed);
  }

  /** The read failed: nothing to lay anything over. */
  stop(): void {
    this.reading = false;
    this.pushed = undefined;
  }
}
