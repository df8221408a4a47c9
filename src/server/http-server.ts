import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { NodeHandler } from "./node-types.js";

/** What clients send first on cleartext HTTP/2 with prior knowledge (h2c). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const FIRST_BYTES_TIMEOUT_MS = 30_000;

/** A listening server for HTTP/1.1 and h2c on one port. */
export interface DualServer {
  /** Starts listening; resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/**
 * One port for HTTP/1.1 and cleartext HTTP/2. Node's h2c server does not fall
 * back to HTTP/1.1, so each connection's first bytes decide: the HTTP/2
 * preface goes to the http2 server, anything else to the http1 server.
 */
export function createDualServer(handler: NodeHandler): DualServer {
  const h1 = http.createServer({ requestTimeout: 300_000, headersTimeout: 30_000 }, handler);
  h1.keepAliveTimeout = 65_000;
  // h1 never listens itself (connections are handed to it), but its idle and
  // timeout tracking starts on 'listening': start it.
  h1.emit("listening");
  let closing = false;
  h1.on("request", (req, res) => {
    if (closing) res.shouldKeepAlive = false;
    // A keep-alive connection whose request ends during shutdown is closed.
    res.once("finish", () => {
      if (closing) req.socket.end();
    });
  });
  const h2 = http2.createServer({}, handler);
  h2.setTimeout(120_000);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const n = Math.min(received.length, H2_PREFACE.length);
      const isH2 = received.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && received.length < H2_PREFACE.length) return; // wait for the whole preface
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(received);
      if (isH2) {
        // The HTTP/2 session drains what we read from the socket's buffer,
        // then reads from the handle itself: the stream must stay paused.
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });

  return {
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          resolve(typeof address === "object" && address !== null ? address.port : port);
        });
      }),
    close: async (graceMs = 10_000) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      closing = true;
      h1.closeIdleConnections();
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      timer.unref();
      const drained = new Promise<void>((resolve) => {
        const check = () => (sockets.size === 0 ? resolve() : setTimeout(check, 20).unref());
        check();
      });
      await Promise.all([closed, drained]);
      clearTimeout(timer);
      h1.close(() => {});
      h2.close(() => {});
    },
  };
}
