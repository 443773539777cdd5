import { helper } from '../test/helpers/runtime';

/**
 * helper.load, then without the test helper's instrumentation. For its
 * assertions the helper wraps Node's methods (send, status, log...) in sinon
 * spies that record every call and emit an event per call; the benchmark
 * wants Node-RED as users run it.
 */
export async function loadPlain(
  nodes: Array<(RED: unknown) => void>,
  flow: Array<{ id?: string }>,
  credentials: Record<string, Record<string, string>> = {},
): Promise<void> {
  await helper.load(nodes, flow, credentials);
  const instrumented = helper as unknown as { _sandbox: { restore(): void }; _NodePrototype: { send: unknown } };
  instrumented._sandbox.restore();
  // Node-RED copies Node.prototype.send onto every wired node as it makes
  // it, so the nodes made during load still hold the spy: give them the
  // restored method, as Node-RED would have without the helper
  for (const { id } of flow) {
    const made = id === undefined ? null : (helper.getNode(id) as unknown as { _wireCount?: number; send: unknown } | null);
    if (made && (made._wireCount ?? 0) > 0) made.send = instrumented._NodePrototype.send;
  }
}
