import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { NodeHandler } from "./node-types.js";

/** What clients send first on cleartext HTTP/2 with prior knowledge (h2c). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const FIRST_BYTES_TIMEOUT_MS = 30_000;
const H2_IDLE_TIMEOUT_MS = 120_000;

/** Certificate and key (PEM) for HTTPS. */
export interface TlsOptions {
  readonly cert: string;
  readonly key: string;
}

/** A listening server for HTTP/1.1 and HTTP/2 on one port. */
export interface DualServer {
  /** Starts listening; resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/**
 * One port for HTTP/1.1 and HTTP/2. With TLS, ALPN picks the protocol. In
 * cleartext, Node's h2c server does not fall back to HTTP/1.1, so each
 * connection's first bytes decide: the HTTP/2 preface goes to an http2 server,
 * anything else to an http1 server.
 */
export function createDualServer(handler: NodeHandler, tls?: TlsOptions): DualServer {
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const trackSessions = (server: http2.Http2Server | http2.Http2SecureServer) => {
    server.setTimeout(H2_IDLE_TIMEOUT_MS);
    server.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
  };

  // HTTP/1.1 requests in flight per connection, to close idle keep-alive
  // connections at shutdown and the others as their last request ends.
  let closing = false;
  const inFlight = new Map<net.Socket, number>();
  const trackHttp1 = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    if (closing) res.shouldKeepAlive = false;
    res.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      if (left === 0) inFlight.delete(socket);
      else inFlight.set(socket, left);
      if (closing && left === 0) socket.end();
    });
  };
  const http1Sockets = new Set<net.Socket>();

  let server: net.Server;
  if (tls !== undefined) {
    const secure = http2.createSecureServer({ ...tls, allowHTTP1: true }, handler);
    trackSessions(secure);
    secure.on("secureConnection", (socket: net.Socket) => {
      socket.setNoDelay(true);
      track(socket);
      if ((socket as { alpnProtocol?: string | false }).alpnProtocol !== "h2")
        http1Sockets.add(socket);
      socket.once("close", () => http1Sockets.delete(socket));
    });
    secure.on("request", (req, res) => {
      if (req.httpVersionMajor === 1) trackHttp1(req as never, res as never);
    });
    server = secure;
  } else {
    const h1 = http.createServer({ requestTimeout: 300_000, headersTimeout: 30_000 }, handler);
    h1.keepAliveTimeout = 65_000;
    // h1 never listens itself (connections are handed to it), but its timeout
    // tracking starts on 'listening': start it.
    h1.emit("listening");
    h1.on("request", trackHttp1);
    const h2 = http2.createServer({}, handler);
    trackSessions(h2);
    // noDelay: we accept the sockets ourselves, so http.Server's TCP_NODELAY
    // default does not apply to HTTP/1.1 ones, whose responses go out in small
    // writes that Nagle would hold for the peer's delayed ACK. (HTTP/2 sessions
    // set it on their socket themselves.)
    server = net.createServer({ noDelay: true }, (socket) => {
      track(socket);
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
          http1Sockets.add(socket);
          socket.once("close", () => http1Sockets.delete(socket));
          h1.emit("connection", socket);
          socket.resume();
        }
      };
      socket.on("data", onData);
      socket.on("error", () => socket.destroy());
    });
    server.once("close", () => {
      h1.close(() => {});
      h2.close(() => {});
    });
  }

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
      for (const socket of http1Sockets) if (!inFlight.has(socket)) socket.end();
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
    },
  };
}
