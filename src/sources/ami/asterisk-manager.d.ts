// asterisk-manager 0.2 ships no types; only what we call is declared.
declare module 'asterisk-manager' {
  namespace createManager {
    interface ManagerResponse {
      response?: string;
      message?: string;
      actionid?: string;
      [key: string]: unknown;
    }
    type ActionCallback = (err: ManagerResponse | Error | null | undefined, res?: ManagerResponse) => void;
    interface Manager {
      options: { port: number; host: string; username: string; password: string; events: boolean };
      connect(port: number, host: string, callback?: (err: Error | null) => void): void;
      login(callback?: (err?: ManagerResponse | Error) => void): void;
      action(action: Record<string, string>, callback?: ActionCallback): string;
      disconnect(callback?: () => void): void;
      isConnected(): boolean;
      on(event: string, listener: (...args: unknown[]) => void): void;
      removeAllListeners(event?: string): void;
    }
  }
  function createManager(port?: number, host?: string, username?: string, password?: string, events?: boolean): createManager.Manager;
  export = createManager;
}
