// node-red-node-test-helper ships no types; this declares the part we use.
declare module 'node-red-node-test-helper' {
  import type { Node } from 'node-red';
  type NodeModule = (RED: unknown) => void | Promise<void>;
  interface Helper {
    init(runtimePath: string, userSettings?: Record<string, unknown>): void;
    settings(userSettings?: Record<string, unknown>): Record<string, unknown>;
    load(nodes: NodeModule | NodeModule[], flow: object[], credentials?: Record<string, object>): Promise<void>;
    setFlows(flow: object[], type?: 'full' | 'flows' | 'nodes', credentials?: Record<string, object>): Promise<void>;
    unload(): Promise<void>;
    getNode(id: string): (Node & Record<string, unknown>) | null;
    startServer(): Promise<void>;
    stopServer(): Promise<void>;
    request(): import('supertest').SuperTest<import('supertest').Test>;
    url(): string;
    log(): { args: unknown[][] };
  }
  const helper: Helper;
  export = helper;
}
declare module 'supertest' {
  export interface Test extends Promise<{ status: number; body: unknown; text: string }> {
    expect(status: number): Test;
    set(name: string, value: string): Test;
    send(body: unknown): Test;
  }
  export interface SuperTest<T> {
    get(url: string): T;
    post(url: string): T;
  }
}
