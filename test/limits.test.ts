import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, ListKeyVersionsRequestSchema, VssService } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { createAdmission } from "../src/core/admission.js";
import { VssError } from "../src/core/errors.js";
import { BinaryCallError, createBinaryClient } from "./support/binary-client.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

describe("per-identity rate limit", () => {
  let app: App;
  beforeAll(async () => {
    app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_RATE_LIMIT_PER_SEC: "5", VSS_RATE_LIMIT_BURST: "5" },
    );
  });
  afterAll(() => app?.close());

  it("answers 429 with Retry-After and an ErrorResponse once an identity exceeds it, and spares others", async () => {
    const greedy = createTestSigner();
    const body = toBinary(
      ListKeyVersionsRequestSchema,
      create(ListKeyVersionsRequestSchema, { storeId: "s" }),
    );
    const responses = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`${app.url}/vss/listKeyVersions`, {
          method: "POST",
          headers: { authorization: greedy.header() },
          body,
        }),
      ),
    );
    const limited = responses.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(30);
    expect(responses.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(5);
    for (const r of limited) {
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(r.headers.get("vss-protocol-version")).toBe("0");
    }
    const polite = createTestSigner();
    await createBinaryClient(app.url, () => polite.header()).listKeyVersions({ storeId: "s" });
    const refused = await createBinaryClient(app.url, () => greedy.header())
      .listKeyVersions({ storeId: "s" })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BinaryCallError);
    expect((refused as BinaryCallError).errorCode).toBe(ErrorCode.INTERNAL_SERVER_EXCEPTION);
  });

  it("answers RESOURCE_EXHAUSTED on gRPC", async () => {
    const greedy = createTestSigner();
    const grpc = createClient(VssService, createGrpcTransport({ baseUrl: app.url }));
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        grpc
          .listKeyVersions({ storeId: "s" }, { headers: { authorization: greedy.header() } })
          .then(
            () => "ok",
            (e: unknown) => Code[ConnectError.from(e).code],
          ),
      ),
    );
    expect(results.filter((r) => r === "ResourceExhausted").length).toBeGreaterThanOrEqual(15);
  });
});

describe("per-identity concurrency cap", () => {
  it("admits up to the cap per identity, refuses more with a retry hint, and frees slots on release", async () => {
    const admission = createAdmission({
      authFailuresPerMin: 0,
      ratePerSec: 0,
      burst: 0,
      maxConcurrent: 2,
    });
    const first = await admission.admit("alice");
    const second = await admission.admit("alice");
    const refused = await admission.admit("alice").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(VssError);
    expect((refused as VssError).reason).toBe("overloaded");
    expect((refused as VssError).retryAfterSecs).toBeGreaterThan(0);
    (await admission.admit("bob"))();
    first();
    first(); // releasing twice frees one slot only
    const third = await admission.admit("alice");
    await expect(admission.admit("alice")).rejects.toBeInstanceOf(VssError);
    second();
    third();
  });
});

describe("failed authentications per client address", () => {
  const body = toBinary(
    ListKeyVersionsRequestSchema,
    create(ListKeyVersionsRequestSchema, { storeId: "s" }),
  );
  /** A binary-form call from `address`, as the proxy in front reports it. */
  const send = (app: App, authorization: string, address: string) =>
    fetch(`${app.url}/vss/listKeyVersions`, {
      method: "POST",
      headers: { authorization, "x-forwarded-for": `${address}, 10.0.0.1` },
      body,
    });
  /** The HTTP status of {@link send}. */
  const call = async (app: App, authorization: string, address: string) =>
    (await send(app, authorization, address)).status;
  const badHeader = () => `${createTestSigner().header().slice(0, 66)}${"11".repeat(64)}${now()}`;
  const now = () => Math.floor(Date.now() / 1000);

  describe("behind two trusted proxies", () => {
    let app: App;
    beforeAll(async () => {
      app = await startServer(
        { kind: "embedded", dataDir: "memory://" },
        { VSS_AUTH_FAILURES_PER_MIN: "3", VSS_TRUSTED_PROXY_HOPS: "2" },
      );
    });
    afterAll(() => app?.close());

    it("refuses an address past its failures without checking its headers, and lets other addresses in", async () => {
      const good = createTestSigner();
      for (let i = 0; i < 3; i++) expect(await call(app, badHeader(), "198.51.100.7")).toBe(401);
      const refused = await send(app, good.header(), "198.51.100.7");
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // The client's own claims, left of what the proxies added, change nothing.
      expect(await call(app, good.header(), "203.0.113.9, 198.51.100.7")).toBe(429);
      expect(await call(app, good.header(), "198.51.100.8")).toBe(200);
    });

    it("refuses it on Connect too, as RESOURCE_EXHAUSTED", async () => {
      for (let i = 0; i < 3; i++) expect(await call(app, badHeader(), "198.51.100.20")).toBe(401);
      const connect = createClient(
        VssService,
        createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
      );
      const outcome = await connect
        .listKeyVersions(
          { storeId: "s" },
          {
            headers: {
              authorization: createTestSigner().header(),
              "x-forwarded-for": "198.51.100.20, 10.0.0.1",
            },
          },
        )
        .then(
          () => "ok",
          (e: unknown) => Code[ConnectError.from(e).code],
        );
      expect(outcome).toBe("ResourceExhausted");
    });
  });

  it("without trusted proxies, counts the socket's address and ignores X-Forwarded-For", async () => {
    const app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_AUTH_FAILURES_PER_MIN: "2" },
    );
    try {
      expect(await call(app, badHeader(), "198.51.100.1")).toBe(401);
      expect(await call(app, badHeader(), "198.51.100.2")).toBe(401);
      expect(await call(app, createTestSigner().header(), "198.51.100.3")).toBe(429);
    } finally {
      await app.close();
    }
  });

  it("is off by default: failures are refused one by one, and good callers always get in", async () => {
    const app = await startServer({ kind: "embedded", dataDir: "memory://" });
    try {
      for (let i = 0; i < 20; i++) expect(await call(app, badHeader(), "198.51.100.1")).toBe(401);
      expect(await call(app, createTestSigner().header(), "198.51.100.1")).toBe(200);
    } finally {
      await app.close();
    }
  });
});
