// asterisk-manager 0.2.0 ships no types; this declares the part of it the AMI adapter uses.
declare module 'asterisk-manager' {
  /** A message as the library parses it: header names lower-cased, repeated headers as arrays. */
  export type ManagerMessage = Record<string, unknown>;
  /** `error` is the response itself when it is `Response: Error`. */
  export type ActionCallback = (
    error: ManagerMessage | undefined,
    response: ManagerMessage | undefined,
  ) => void;
  type Listener = (...args: never[]) => void;

  export interface Manager {
    options: { port: number; host: string; username: string; password: string; events: boolean };
    /** Opens the TCP connection; `callback` runs only once it is connected. */
    connect(port: number, host: string, callback?: () => void): void;
    /** Logs in with `options.username`/`options.password`; actions sent before it are held. */
    login(callback?: (error?: ManagerMessage) => void): void;
    /** Sends an action (`actionid` is used when free); returns the ActionID actually used. */
    action(action: Record<string, string>, callback?: ActionCallback): string;
    /** Ends the socket only when it is open. */
    disconnect(callback?: () => void): void;
    isConnected(): boolean;
    on(event: string, listener: Listener): unknown;
    once(event: string, listener: Listener): unknown;
    removeListener(event: string, listener: Listener): unknown;
    removeAllListeners(event?: string): unknown;
    listeners(event: string): Listener[];
  }

  /** `new Manager(port, host, user, secret, events)`; a falsy port does not connect yet. */
  const Manager: {
    new (port: number, host: string, username: string, password: string, events: boolean): Manager;
  };
  export default Manager;
}
