/**
 * A loopback proxy in front of the shared Postgres that counts the round trips it carries: every
 * ReadyForQuery the server sends ends one (a simple Query, or an extended batch ending in Sync).
 * Point a connection string at `url` and read `roundTrips()` around the work to measure.
 */
import { createConnection, createServer, type Socket } from 'node:net';

export interface WireCounter {
  /** `databaseUrl` with its host and port swapped for the proxy's. */
  url: string;
  roundTrips(): number;
  close(): Promise<void>;
}

export async function startWireCounter(databaseUrl: string): Promise<WireCounter> {
  const target = new URL(databaseUrl);
  let ready = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    sockets.add(client).add(upstream);
    // Server to client: messages are a type byte and a length (which counts itself); 'Z' is ReadyForQuery.
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1);
        if (pending.length < 1 + length) break;
        if (pending[0] === 0x5a) ready++;
        pending = pending.subarray(1 + length);
      }
      client.write(chunk);
    });
    client.on('data', (chunk) => upstream.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the wire counter has no port');
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString(),
    roundTrips: () => ready,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
