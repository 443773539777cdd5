/**
 * The device handle of a config node (wiim-config, sonoff-config), as the
 * design page publishes it: the widgets use nothing else of the device
 * package. Only types; errors are read by `kind`.
 */
export type Health = 'connecting' | 'online' | 'offline' | 'faulty' | 'unconfigured';

export interface DeviceUpdate<S> {
  health: Health;
  state: Readonly<S> | undefined;
  changed: readonly string[];
  source: 'push' | 'poll' | 'command' | 'refresh' | 'health';
  error?: { kind: string; message: string };
}

export interface DeviceHandle<S> {
  readonly family: 'wiim' | 'sonoff';
  readonly name: string;
  readonly health: Health;
  readonly state: Readonly<S> | undefined;
  subscribe(listener: (u: DeviceUpdate<S>) => void, options?: { meta?: boolean }): () => void;
  send(command: string, value?: unknown, options?: { outlet?: number }): Promise<{ payload: unknown; state: Readonly<S> | undefined }>;
}
