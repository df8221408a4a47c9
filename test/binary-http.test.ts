import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ErrorCode,
  ErrorResponseSchema,
  GetObjectRequestSchema,
  GetObjectResponseSchema,
  PutObjectRequestSchema,
} from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { createBinaryClient } from "./support/binary-client.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const MAX_BODY = 64 * 1024;

describe("the binary HTTP form", () => {
  let app: App;
  const signer = createTestSigner();
  beforeAll(async () => {
    app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_MAX_REQUEST_BODY_SIZE: String(MAX_BODY), VSS_CORS_ORIGINS: "https://wallet.example" },
    );
  });
  afterAll(() => app?.close());

  const post = (
    path: string,
    body: Uint8Array<ArrayBuffer> | string,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${app.url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/octet-stream",
        authorization: signer.header(),
        ...headers,
      },
      body,
    });
  const errorOf = async (response: Response) =>
    fromBinary(ErrorResponseSchema, new Uint8Array(await response.arrayBuffer()));

  it("carries vss-protocol-version: 0 on success, errors, 404, 413 and health", async () => {
    const responses = [
      await post(
        "/vss/getObject",
        toBinary(
          GetObjectRequestSchema,
          create(GetObjectRequestSchema, { storeId: "s", key: "global_version" }),
        ),
      ),
      await post(
        "/vss/getObject",
        toBinary(
          GetObjectRequestSchema,
          create(GetObjectRequestSchema, { storeId: "s", key: "nope" }),
        ),
      ),
      await post("/vss/nothing", ""),
      await post("/vss/putObjects", new Uint8Array(MAX_BODY + 1)),
      await post("/vss/getObject", "", { authorization: "" }),
      await fetch(`${app.url}/vss/health`),
      await fetch(`${app.url}/elsewhere`),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 404, 404, 413, 401, 200, 404]);
    for (const response of responses) {
      expect(response.headers.get("vss-protocol-version")).toBe("0");
    }
  });

  it("answers 413 with an ErrorResponse for a body over the limit, declared or streamed", async () => {
    const declared = await post("/vss/putObjects", new Uint8Array(MAX_BODY + 1));
    expect(declared.status).toBe(413);
    expect((await errorOf(declared)).errorCode).toBe(ErrorCode.INVALID_REQUEST_EXCEPTION);

    // No Content-Length: the server must stop reading at the limit.
    const chunks = 64;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < chunks; i++) controller.enqueue(new Uint8Array(MAX_BODY / 8));
        controller.close();
      },
    });
    const streamed = await fetch(`${app.url}/vss/putObjects`, {
      method: "POST",
      headers: { authorization: signer.header() },
      body: stream,
      duplex: "half",
    } as RequestInit & { duplex: "half" });
    expect(streamed.status).toBe(413);
    expect(streamed.headers.get("vss-protocol-version")).toBe("0");
  });

  it("accepts a body right at the limit", async () => {
    const value = new Uint8Array(MAX_BODY - 100);
    const body = toBinary(
      PutObjectRequestSchema,
      create(PutObjectRequestSchema, {
        storeId: "s",
        transactionItems: [{ key: "at-limit", version: -1n, value }],
      }),
    );
    expect(body.length).toBeLessThanOrEqual(MAX_BODY);
    expect((await post("/vss/putObjects", body)).status).toBe(200);
  });

  it("answers an unknown path with 404 and an ErrorResponse that is not NO_SUCH_KEY", async () => {
    const response = await post("/vss/unknownCall", "");
    expect(response.status).toBe(404);
    expect((await errorOf(response)).errorCode).toBe(ErrorCode.INVALID_REQUEST_EXCEPTION);
  });

  it("answers a GET on a call path with 405 and an ErrorResponse", async () => {
    const response = await fetch(`${app.url}/vss/getObject`, {
      headers: { authorization: signer.header() },
    });
    expect(response.status).toBe(405);
    expect((await errorOf(response)).errorCode).toBe(ErrorCode.INVALID_REQUEST_EXCEPTION);
  });

  it("refuses a body that is not a valid message with 400 INVALID_REQUEST", async () => {
    for (const body of [
      new Uint8Array([0xff, 0xff, 0xff]),
      new Uint8Array([0x0a, 0x10, 0x41]), // length past the end
      new Uint8Array([0x12, 0x02, 0xc3, 0x28]), // key with invalid UTF-8
    ]) {
      const response = await post("/vss/getObject", body);
      expect(response.status).toBe(400);
      const error = await errorOf(response);
      expect(error.errorCode).toBe(ErrorCode.INVALID_REQUEST_EXCEPTION);
      expect(error.message).toMatch(/malformed/);
    }
  });

  it("refuses a malformed put without writing anything", async () => {
    const client = createBinaryClient(app.url, () => signer.header());
    const valid = toBinary(
      PutObjectRequestSchema,
      create(PutObjectRequestSchema, {
        storeId: "mal",
        transactionItems: [{ key: "k", version: 0n, value: new Uint8Array(8) }],
      }),
    );
    const response = await post("/vss/putObjects", valid.slice(0, valid.length - 3));
    expect(response.status).toBe(400);
    const page = await client.listKeyVersions({ storeId: "mal" });
    expect(page.keyVersions).toEqual([]);
  });

  it("serves the binary form over h2c too", async () => {
    const session = http2.connect(app.url);
    try {
      const body = toBinary(
        GetObjectRequestSchema,
        create(GetObjectRequestSchema, { storeId: "s", key: "global_version" }),
      );
      const { status, data, version } = await new Promise<{
        status: number;
        data: Buffer;
        version: unknown;
      }>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/vss/getObject",
          "content-type": "application/octet-stream",
          authorization: signer.header(),
        });
        const chunks: Buffer[] = [];
        let headers: http2.IncomingHttpHeaders = {};
        stream.on("response", (h) => {
          headers = h;
        });
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () =>
          resolve({
            status: Number(headers[":status"]),
            data: Buffer.concat(chunks),
            version: headers["vss-protocol-version"],
          }),
        );
        stream.on("error", reject);
        stream.end(body);
      });
      expect(status).toBe(200);
      expect(version).toBe("0");
      expect(fromBinary(GetObjectResponseSchema, data).value?.key).toBe("global_version");
    } finally {
      session.close();
    }
  });

  it("answers health with 200 while the database answers", async () => {
    const response = await fetch(`${app.url}/vss/health`);
    expect(response.status).toBe(200);
  });

  it("answers CORS preflights for allowed origins and exposes gRPC-Web headers", async () => {
    const preflight = await fetch(`${app.url}/vss.VssService/GetObject`, {
      method: "OPTIONS",
      headers: {
        origin: "https://wallet.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-grpc-web",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://wallet.example");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain(
      "authorization",
    );
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain(
      "x-grpc-web",
    );

    const actual = await fetch(`${app.url}/vss/health`, {
      headers: { origin: "https://wallet.example" },
    });
    expect(actual.headers.get("access-control-expose-headers")?.toLowerCase()).toContain(
      "grpc-status",
    );

    const stranger = await fetch(`${app.url}/vss/health`, {
      headers: { origin: "https://evil.example" },
    });
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
  });
});
