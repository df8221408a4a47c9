import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, ErrorResponseSchema, VssService } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { storeTargets } from "./support/databases.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const bytes = (s: string) => new TextEncoder().encode(s);

const PROTOCOLS: { name: string; transport: (baseUrl: string) => Transport }[] = [
  { name: "gRPC over h2c", transport: (baseUrl) => createGrpcTransport({ baseUrl }) },
  {
    name: "gRPC-Web over HTTP/1.1",
    transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  },
  {
    name: "Connect (binary) over HTTP/1.1",
    transport: (baseUrl) =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  },
  {
    name: "Connect (JSON) over h2c",
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" }),
  },
];

/** The Connect code and attached VSS error code of a failed call, or "ok". */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    const e = ConnectError.from(error);
    const detail = e.findDetails(ErrorResponseSchema)[0];
    return `${Code[e.code]}/${detail === undefined ? "none" : ErrorCode[detail.errorCode]}`;
  }
}

describe.each(storeTargets())("typed-stub protocols on $name", (target) => {
  let app: App;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const opened = await target.open();
    cleanup = opened.cleanup;
    app = await startServer(opened.database);
  });
  afterAll(async () => {
    await app?.close();
    await cleanup?.();
  });

  describe.each(PROTOCOLS)("$name", (protocol) => {
    const connect = () => {
      const signer = createTestSigner();
      const client: Client<typeof VssService> = createClient(
        VssService,
        protocol.transport(app.url),
      );
      const headers = () => ({ authorization: signer.header() });
      return { client, headers, signer };
    };

    it("writes, reads, lists and deletes with the contract's versions", async () => {
      const { client, headers } = connect();
      await client.putObjects(
        {
          storeId: "wallet",
          globalVersion: 0n,
          transactionItems: [
            { key: "a", version: 0n, value: bytes("alpha") },
            { key: "b", version: 0n, value: bytes("beta") },
          ],
        },
        { headers: headers() },
      );
      const got = await client.getObject({ storeId: "wallet", key: "a" }, { headers: headers() });
      expect(got.value?.version).toBe(1n);
      expect(new TextDecoder().decode(got.value?.value)).toBe("alpha");

      const page = await client.listKeyVersions({ storeId: "wallet" }, { headers: headers() });
      expect(page.keyVersions.map((k) => [k.key, k.version])).toEqual([
        ["b", 1n],
        ["a", 1n],
      ]);
      expect(page.globalVersion).toBe(1n);
      expect(page.nextPageToken).toBe("");

      await client.deleteObject(
        { storeId: "wallet", keyValue: { key: "a", version: 1n } },
        { headers: headers() },
      );
      expect(
        await outcome(client.getObject({ storeId: "wallet", key: "a" }, { headers: headers() })),
      ).toBe("NotFound/NO_SUCH_KEY_EXCEPTION");
    });

    it("maps conflicts to ABORTED with the VSS error code attached", async () => {
      const { client, headers } = connect();
      await client.putObjects(
        { storeId: "s", transactionItems: [{ key: "k", version: 0n, value: bytes("1") }] },
        { headers: headers() },
      );
      expect(
        await outcome(
          client.putObjects(
            { storeId: "s", transactionItems: [{ key: "k", version: 0n, value: bytes("2") }] },
            { headers: headers() },
          ),
        ),
      ).toBe("Aborted/CONFLICT_EXCEPTION");
      expect(
        await outcome(
          client.putObjects({ storeId: "s", globalVersion: 3n }, { headers: headers() }),
        ),
      ).toBe("Aborted/CONFLICT_EXCEPTION");
    });

    it("maps invalid requests to INVALID_ARGUMENT", async () => {
      const { client, headers } = connect();
      expect(
        await outcome(
          client.listKeyVersions({ storeId: "s", pageSize: -1 }, { headers: headers() }),
        ),
      ).toBe("InvalidArgument/INVALID_REQUEST_EXCEPTION");
      expect(await outcome(client.deleteObject({ storeId: "s" }, { headers: headers() }))).toBe(
        "InvalidArgument/INVALID_REQUEST_EXCEPTION",
      );
    });

    it("maps missing or bad authentication to UNAUTHENTICATED and writes nothing", async () => {
      const { client, headers, signer } = connect();
      const put = {
        storeId: "s",
        transactionItems: [{ key: "k", version: 0n, value: bytes("x") }],
      };
      expect(await outcome(client.putObjects(put))).toBe("Unauthenticated/AUTH_EXCEPTION");
      const stale = signer.header(Math.floor(Date.now() / 1000) - 3 * 86_400);
      expect(await outcome(client.putObjects(put, { headers: { authorization: stale } }))).toBe(
        "Unauthenticated/AUTH_EXCEPTION",
      );
      expect(
        await outcome(client.getObject({ storeId: "s", key: "k" }, { headers: headers() })),
      ).toBe("NotFound/NO_SUCH_KEY_EXCEPTION");
    });

    it("keeps two identities apart in get, list, put conflicts and delete", async () => {
      const alice = connect();
      const bob = connect();
      const put = (version: bigint, value: string) => ({
        storeId: "shared-name",
        transactionItems: [{ key: "k", version, value: bytes(value) }],
      });
      await alice.client.putObjects(put(0n, "alice"), { headers: alice.headers() });
      expect(
        await outcome(
          bob.client.getObject({ storeId: "shared-name", key: "k" }, { headers: bob.headers() }),
        ),
      ).toBe("NotFound/NO_SUCH_KEY_EXCEPTION");
      const page = await bob.client.listKeyVersions(
        { storeId: "shared-name" },
        { headers: bob.headers() },
      );
      expect(page.keyVersions).toEqual([]);
      // Bob's create is no conflict with Alice's key, and his delete leaves hers.
      await bob.client.putObjects(put(0n, "bob"), { headers: bob.headers() });
      await bob.client.deleteObject(
        { storeId: "shared-name", keyValue: { key: "k", version: -1n } },
        { headers: bob.headers() },
      );
      const mine = await alice.client.getObject(
        { storeId: "shared-name", key: "k" },
        { headers: alice.headers() },
      );
      expect(new TextDecoder().decode(mine.value?.value)).toBe("alice");
      expect(mine.value?.version).toBe(1n);
    });

    it("shares one keyspace with the binary HTTP form for the same identity", async () => {
      const { client, headers, signer } = connect();
      await client.putObjects(
        { storeId: "s", transactionItems: [{ key: "shared", version: 0n, value: bytes("rpc") }] },
        { headers: headers() },
      );
      const { createBinaryClient } = await import("./support/binary-client.js");
      const binary = createBinaryClient(app.url, () => signer.header());
      const got = await binary.getObject({ storeId: "s", key: "shared" });
      expect(new TextDecoder().decode(got.value?.value)).toBe("rpc");
    });
  });
});
