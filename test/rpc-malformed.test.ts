import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../src/app.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const GARBAGE = new Uint8Array([0xff, 0xff, 0xff, 0x01]);
const envelope = (payload: Uint8Array, flags = 0) => {
  const frame = new Uint8Array(5 + payload.length);
  frame[0] = flags;
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame.set(payload, 5);
  return frame;
};

describe("undecodable request messages on the RPC protocols", () => {
  let app: App;
  const signer = createTestSigner();
  beforeAll(async () => {
    app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_MAX_REQUEST_BODY_SIZE: "65536" },
    );
  });
  afterAll(() => app?.close());

  it("answers Connect (binary) with invalid_argument, not internal", async () => {
    const response = await fetch(`${app.url}/vss.VssService/GetObject`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: signer.header() },
      body: GARBAGE,
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toBe("invalid_argument");
  });

  it("answers Connect with gzip-compressed garbage with invalid_argument", async () => {
    const response = await fetch(`${app.url}/vss.VssService/PutObjects`, {
      method: "POST",
      headers: {
        "content-type": "application/proto",
        "content-encoding": "gzip",
        authorization: signer.header(),
      },
      body: gzipSync(GARBAGE),
    });
    expect(response.status).toBe(400);
  });

  it("answers gRPC-Web with grpc-status 3", async () => {
    const response = await fetch(`${app.url}/vss.VssService/GetObject`, {
      method: "POST",
      headers: {
        "content-type": "application/grpc-web+proto",
        "x-grpc-web": "1",
        authorization: signer.header(),
      },
      body: envelope(GARBAGE),
    });
    const text = new TextDecoder().decode(await response.arrayBuffer());
    const status = response.headers.get("grpc-status") ?? /grpc-status: ?(\d+)/.exec(text)?.[1];
    expect(status).toBe("3");
  });

  it("answers gRPC over h2c with grpc-status 3", async () => {
    const session = http2.connect(app.url);
    try {
      const status = await new Promise<string | undefined>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/vss.VssService/ListKeyVersions",
          "content-type": "application/grpc",
          te: "trailers",
          authorization: signer.header(),
        });
        let found: string | undefined;
        stream.on("response", (headers) => {
          found = headers["grpc-status"] as string | undefined;
        });
        stream.on("trailers", (trailers) => {
          found = trailers["grpc-status"] as string | undefined;
        });
        stream.on("data", () => {});
        stream.on("end", () => resolve(found));
        stream.on("error", reject);
        stream.end(envelope(GARBAGE));
      });
      expect(status).toBe("3");
    } finally {
      session.close();
    }
  });

  it("answers an oversize message with resource_exhausted, never as an empty request", async () => {
    const response = await fetch(`${app.url}/vss.VssService/PutObjects`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: signer.header() },
      body: new Uint8Array(70_000),
    });
    expect(response.status).toBe(429);
    expect(((await response.json()) as { code: string }).code).toBe("resource_exhausted");
  });
});
