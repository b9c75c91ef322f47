/**
 * A static HTTP server on 127.0.0.1 (port 0) for tests, serving a directory like
 * `python3 -m http.server` does (no Range support unless asked), with per-path fault modes and
 * counts of requests and body bytes per path.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** Answer with this status (e.g. 500, 404). */
  | { status: number }
  /** Declare the full length, send this many bytes, then reset the connection. */
  | { resetAfter: number }
  /** Send the real body plus this many extra bytes; Content-Length declares the longer length unless chunked. */
  | { extra: number; chunked?: boolean }
  /** Chunked, no length, and it never ends (until the client hangs up). */
  | { endless: true }
  /** Serve only the first n bytes, with a matching Content-Length (a short file on the server). */
  | { truncate: number }
  /** Serve these bytes instead of the file. */
  | { body: Buffer | string }
  /** Never answer ('head'), or answer and send half the body, then go silent ('body'). */
  | { stall: 'head' | 'body' }
  /** 302 to this location. */
  | { redirect: string }
  /** Answer normally, but only once this promise settles (holds a client mid-download). */
  | { gate: Promise<unknown> };

export interface RequestRecord {
  path: string;
  range: string | undefined;
  status: number;
}

export interface ReleaseServer {
  /** http://127.0.0.1:PORT */
  base: string;
  /** base + the path, each segment encoded. */
  url(p: string): string;
  /** Requests per decoded path. */
  hits(p: string): number;
  /** Body bytes sent per decoded path. */
  bytesSent(p: string): number;
  totalBytesSent(): number;
  requests: RequestRecord[];
  /** The next `times` requests for path p (decoded, leading '/') get this fault. */
  fault(p: string, f: Fault, times?: number): void;
  /** Serve `/p` from memory (over the directory). */
  put(p: string, body: Buffer | string): void;
  /** Forget counts, requests and faults. */
  reset(): void;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Honour `Range: bytes=N-` with 206 (default false, like python3 -m http.server). */
  ranges?: boolean;
}

export async function startReleaseServer(root: string, opts: ServerOptions = {}): Promise<ReleaseServer> {
  const hits = new Map<string, number>();
  const sent = new Map<string, number>();
  const faults = new Map<string, Array<{ f: Fault; left: number }>>();
  const memory = new Map<string, Buffer>();
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();

  const count = (p: string, n: number): void => void sent.set(p, (sent.get(p) ?? 0) + n);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let p: string;
    try {
      p = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const rec: RequestRecord = { path: p, range: req.headers.range, status: 200 };
    requests.push(rec);
    const send = (status: number, body: Buffer, headers: Record<string, string | number> = {}): void => {
      rec.status = status;
      res.writeHead(status, { 'content-length': body.length, ...headers });
      res.end(body);
      count(p, body.length);
    };

    const queue = faults.get(p);
    const slot = queue?.[0];
    if (slot !== undefined) {
      if (--slot.left <= 0) queue!.shift();
    }
    const fault = slot?.f;
    if (fault !== undefined && 'status' in fault) return send(fault.status, Buffer.from(`fault ${fault.status}\n`));
    if (fault !== undefined && 'redirect' in fault) return send(302, Buffer.alloc(0), { location: fault.redirect });
    if (fault !== undefined && 'stall' in fault && fault.stall === 'head') return; // never answers

    const respond = (fault: Exclude<Fault, { gate: Promise<unknown> }> | undefined): void => {
      let body: Buffer | undefined = memory.get(p);
      if (body === undefined) {
        const file = path.join(root, ...p.split('/').filter(Boolean));
        if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return send(404, Buffer.from('not found\n'));
        body = fs.readFileSync(file);
      }
      if (fault === undefined) {
        const m = opts.ranges ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null;
        if (m !== null && Number(m[1]) <= body.length) {
          const from = Number(m[1]);
          return send(206, body.subarray(from), { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` });
        }
        return send(200, body);
      }
      if ('body' in fault) return send(200, Buffer.from(fault.body));
      if ('truncate' in fault) return send(200, body.subarray(0, fault.truncate));
      if ('extra' in fault) {
        const long = Buffer.concat([body, Buffer.alloc(fault.extra, 0x41)]);
        if (!fault.chunked) return send(200, long);
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        res.end(long);
        count(p, long.length);
        return;
      }
      if ('endless' in fault) {
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        const chunk = Buffer.alloc(16 * 1024, 0x42);
        let total = 0;
        const pump = (): void => {
          // Bounded anyway: a client that never stops reading must not run the test forever.
          while (!res.destroyed && total < 64 * 1024 * 1024) {
            total += chunk.length;
            count(p, chunk.length);
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if ('resetAfter' in fault) {
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, fault.resetAfter), () => {
          count(p, fault.resetAfter);
          const s = req.socket as Socket & { resetAndDestroy?: () => void };
          setTimeout(() => (s.resetAndDestroy ? s.resetAndDestroy() : s.destroy()), 5);
        });
        return;
      }
      if ('stall' in fault) {
        res.writeHead(200, { 'content-length': body.length });
        const half = Math.floor(body.length / 2);
        res.write(body.subarray(0, half));
        count(p, half);
        return; // and nothing more
      }
    };
    if (fault !== undefined && 'gate' in fault) {
      void fault.gate.then(() => respond(undefined));
      return;
    }
    respond(fault);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;

  return {
    base,
    url: (p) => base + p.split('/').map((s) => encodeURIComponent(s)).join('/'),
    hits: (p) => hits.get(p) ?? 0,
    bytesSent: (p) => sent.get(p) ?? 0,
    totalBytesSent: () => [...sent.values()].reduce((a, b) => a + b, 0),
    requests,
    fault(p, f, times = Infinity) {
      const q = faults.get(p) ?? [];
      q.push({ f, left: times });
      faults.set(p, q);
    },
    put(p, body) {
      memory.set(p, Buffer.from(body));
    },
    reset() {
      hits.clear();
      sent.clear();
      faults.clear();
      requests.length = 0;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
