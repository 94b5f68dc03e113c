import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface FakeWhois {
  port: number;
  /** Queries received, as sent (without CR LF). */
  queries: string[];
  close(): Promise<void>;
}

export interface FakeWhoisOptions {
  /** Text for a query; default names the address. */
  answer?: (query: string) => string;
  /** Accept, read the query, never answer (whois servers that hang). */
  hang?: boolean;
}

/** An RFC 3912 whois server on 127.0.0.1: one line in, the answer out, close. */
export async function startFakeWhois(opts: FakeWhoisOptions = {}): Promise<FakeWhois> {
  const queries: string[] = [];
  const sockets = new Set<Socket>();
  const answer = opts.answer ?? ((q: string) => `% fake whois\nnetname: TEST-NET-${q}\ncountry: ZZ\n`);
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      const end = buf.indexOf('\r\n');
      if (end < 0) return;
      const q = buf.slice(0, end);
      queries.push(q);
      if (!opts.hang) sock.end(answer(q));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    queries,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
