import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http2 from "node:http2";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VssService } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

describe("HTTPS", () => {
  let dir: string;
  let ca: string;
  let app: App;
  const signer = createTestSigner();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vss-tls-"));
    // A self-signed certificate for localhost, made here and now.
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { stdio: "pipe" },
    );
    ca = await readFile(join(dir, "cert.pem"), "utf8");
    app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_TLS_CERT: join(dir, "cert.pem"), VSS_TLS_KEY: join(dir, "key.pem") },
    );
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("negotiates HTTP/2 by ALPN and serves gRPC over it", async () => {
    expect(app.url).toMatch(/^https:/);
    const session = http2.connect(app.url, { ca });
    try {
      await new Promise<void>((resolve, reject) => {
        session.once("connect", () => resolve());
        session.once("error", reject);
      });
      expect(session.alpnProtocol).toBe("h2");
    } finally {
      session.close();
    }
    const grpc = createClient(
      VssService,
      createGrpcTransport({ baseUrl: app.url, nodeOptions: { ca } }),
    );
    const got = await grpc.getObject(
      { storeId: "s", key: "global_version" },
      { headers: { authorization: signer.header() } },
    );
    expect(got.value?.version).toBe(0n);
  });

  it("serves HTTP/1.1 on the same port, for the binary form and gRPC-Web", async () => {
    const status = await new Promise<{
      status: number | undefined;
      version: string;
      header: unknown;
    }>((resolve, reject) => {
      https
        .get(`${app.url}/vss/health`, { ca } as https.RequestOptions, (res) => {
          res.resume();
          resolve({
            status: res.statusCode,
            version: res.httpVersion,
            header: res.headers["vss-protocol-version"],
          });
        })
        .on("error", reject);
    });
    expect(status).toEqual({ status: 200, version: "1.1", header: "0" });
    const web = createClient(
      VssService,
      createGrpcWebTransport({ baseUrl: app.url, httpVersion: "1.1", nodeOptions: { ca } }),
    );
    await web.listKeyVersions({ storeId: "s" }, { headers: { authorization: signer.header() } });
  });

  it("refuses clients that do not trust the certificate", async () => {
    await expect(fetch(`${app.url}/vss/health`)).rejects.toThrow();
  });

  it("needs both VSS_TLS_CERT and VSS_TLS_KEY", () => {
    expect(() => loadConfig({ VSS_TLS_CERT: join(dir, "cert.pem") })).toThrow(/^VSS_TLS_KEY: /);
    expect(() =>
      loadConfig({ VSS_TLS_CERT: join(dir, "key.pem"), VSS_TLS_KEY: join(dir, "key.pem") }),
    ).toThrow(/^VSS_TLS_CERT: not a PEM certificate/);
  });
});
