/** Records each `release()` a device client gets (whether it keeps its undici Client), and still releases. */
export function recordReleases(client: { release(keepClient?: boolean): void }): boolean[] {
  const released: boolean[] = [];
  const release = client.release.bind(client);
  client.release = (keepClient) => {
    released.push(keepClient === true);
    release(keepClient);
  };
  return released;
}
