// `npm run bench`: the server against the reference server's SQL run by
// pgbench, on the same PostgreSQL, the same machine and the same concurrency.
// Rounds alternate between the contenders; medians are reported, with ratios.
//
// Options: --duration S (per measurement, default 5), --rounds N (default 3),
// --concurrency C (default 16), --soak S (RSS soak seconds, default 0: off),
// --out FILE (default BENCHMARKS.md).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { Pool } from "undici";
import {
  GetObjectRequestSchema,
  ListKeyVersionsRequestSchema,
  PutObjectRequestSchema,
  VssService,
} from "../gen/vss/vss_pb.js";
import { findPostgresBin, startPostgresCluster } from "../test/support/postgres-cluster.js";
import { createTestSigner } from "../test/support/rust-signature.js";
import { type ServerProcess, startServerProcess } from "../test/support/server-process.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    soak: { type: "string", default: "0" },
    out: { type: "string", default: "BENCHMARKS.md" },
  },
});
const DURATION_MS = Number(args.duration) * 1000;
const ROUNDS = Number(args.rounds);
const CONCURRENCY = Number(args.concurrency);
const SOAK_SECS = Number(args.soak);
const KEYS = 10_000;
const VALUE = new Uint8Array(1024).map((_, i) => (i * 7) & 0xff);
const VALUE_HEX = Buffer.from(VALUE).toString("hex");

interface Measurement {
  opsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] ?? Number.NaN);
};
const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN);

/** Runs `op` from CONCURRENCY workers for DURATION_MS; every worker has its own state. */
async function load(op: (worker: number, i: number) => Promise<void>): Promise<Measurement> {
  // A short warm-up, not counted.
  const warmEnd = performance.now() + 500;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = 0; performance.now() < warmEnd; i++) await op(w, -1 - i);
    }),
  );
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = 0; performance.now() < end && i < 10_000_000; i++) {
        const t0 = performance.now();
        await op(w, i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    opsPerSec: latencies.length / elapsed,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
  };
}

/** Runs a pgbench script with the same concurrency; ops/s is transactions per second. */
async function pgbench(bin: string, url: string, script: string): Promise<Measurement> {
  const dir = await mkdtemp(join(os.tmpdir(), "vss-pgbench-"));
  try {
    const file = join(dir, "script.sql");
    await writeFile(file, script);
    const out = execFileSync(
      join(bin, "pgbench"),
      [
        "-n",
        "-M",
        "prepared",
        "-c",
        String(CONCURRENCY),
        "-j",
        "2",
        "-T",
        String(Math.round(DURATION_MS / 1000)),
        "--log",
        `--log-prefix=${join(dir, "log")}`,
        "-f",
        file,
        url,
      ],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    ).toString();
    const tps = Number(/tps = ([0-9.]+) \(without initial connection time\)/.exec(out)?.[1]);
    // Per-transaction logs: client, tx, latency in microseconds, ...
    const latencies: number[] = [];
    for (const name of execFileSync("ls", [dir]).toString().split("\n")) {
      if (!name.startsWith("log")) continue;
      for (const line of (await readFile(join(dir, name), "utf8")).split("\n")) {
        const us = Number(line.split(" ")[2]);
        if (Number.isFinite(us) && line !== "") latencies.push(us / 1000);
      }
    }
    const sorted = Float64Array.from(latencies).sort();
    return {
      opsPerSec: tps,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      p999: percentile(sorted, 0.999),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// The statements the reference Rust server sends for the same calls.
const upsert = (store: string, key: string) =>
  `INSERT INTO vss_db (user_token, store_id, key, value, version, created_at, last_updated_at) VALUES ('pgbench', ${store}, ${key}, '\\x${VALUE_HEX}'::bytea, 1, now(), now()) ON CONFLICT (user_token, store_id, key) DO UPDATE SET value = EXCLUDED.value, version = 1, last_updated_at = now();`;
const PGBENCH = {
  get: `\\set k random(0, ${KEYS - 1})\nSELECT key, value, version FROM vss_db WHERE user_token = 'pgbench' AND store_id = 'bench' AND key = 'k' || :k;\n`,
  put1: `\\set k random(0, ${KEYS - 1})\nBEGIN;\n${upsert("'bench'", "'k' || :k")}\nCOMMIT;\n`,
  putCond: `\\set k random(0, ${KEYS - 1})\nBEGIN;\n${upsert("'c' || :client_id", "'k' || :k")}\nUPDATE vss_db SET version = version + 1, last_updated_at = now() WHERE user_token = 'pgbench' AND store_id = 'c' || :client_id AND key = 'global_version' AND version >= 0;\nCOMMIT;\n`,
  put10: `${Array.from({ length: 10 }, (_, i) => `\\set k${i} random(0, ${KEYS - 1})`).join("\n")}\nBEGIN;\n${Array.from({ length: 10 }, (_, i) => upsert("'bench'", `'k' || :k${i}`)).join("\n")}\nCOMMIT;\n`,
};

type Protocol = "binary" | "grpc";
type Scenario = "get" | "put1" | "putCond" | "put10" | "listFirst" | "listDeep";
const SCENARIOS: Scenario[] = ["get", "put1", "putCond", "put10", "listFirst", "listDeep"];
const LABELS: Record<Scenario, string> = {
  get: "GetObject",
  put1: "PutObjects, 1 item, version -1",
  putCond: "PutObjects, 1 item, with global_version",
  put10: "PutObjects, 10 items",
  listFirst: "ListKeyVersions, first page (100)",
  listDeep: "ListKeyVersions, deep page (100)",
};

/** Fills stores directly in SQL: `bench` (KEYS keys) for the server's identity and for pgbench. */
async function populate(url: string, identity: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    for (const user of [identity, "pgbench"]) {
      await sql`insert into vss_db (user_token, store_id, key, value, version, created_at, last_updated_at)
        select ${user}, 'bench', 'k' || g, ${Buffer.from(VALUE)}, 1, now(), now() from generate_series(0, ${KEYS - 1}) g
        on conflict do nothing`;
      // Per-client global versions for the pgbench conditional put.
      await sql`insert into vss_db (user_token, store_id, key, value, version, created_at, last_updated_at)
        select ${user}, 'c' || g, 'global_version', ''::bytea, 1, now(), now() from generate_series(0, ${CONCURRENCY}) g
        on conflict do nothing`;
    }
    for (const [store, n] of [
      ["small", 1_000],
      ["large", 100_000],
    ] as const) {
      await sql`insert into vss_db (user_token, store_id, key, value, version, created_at, last_updated_at)
        select ${identity}, ${store}, 'k' || g, ${Buffer.from(VALUE.subarray(0, 32))}, 1, now(), now() from generate_series(0, ${n - 1}) g
        on conflict do nothing`;
    }
    await sql`analyze vss_db`;
  } finally {
    await sql.end();
  }
}

/** A page token pointing at the oldest keys of `store`: the deepest page. */
async function deepToken(url: string, identity: string, store: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows =
      await sql`select sort_order::text as p from vss_db where user_token = ${identity} and store_id = ${store} order by sort_order asc offset 150 limit 1`;
    return String(rows[0]?.["p"]);
  } finally {
    await sql.end();
  }
}

function makeClients(server: ServerProcess, authorization: string) {
  const pool = new Pool(server.url, { connections: CONCURRENCY, pipelining: 1 });
  const post = async (path: string, body: Uint8Array) => {
    const res = await pool.request({
      path: `/vss/${path}`,
      method: "POST",
      headers: { authorization, "content-type": "application/octet-stream" },
      body,
    });
    await res.body.arrayBuffer();
    if (res.statusCode !== 200) throw new Error(`${path}: HTTP ${res.statusCode}`);
  };
  // Node's HTTP/2 sessions set TCP_NODELAY on their sockets themselves.
  const grpc = createClient(VssService, createGrpcTransport({ baseUrl: server.url }));
  const headers = { authorization };
  return { pool, post, grpc, headers };
}

/** Each conditional-put worker owns a store, and so knows its global version, across rounds. */
const globalVersions = new Map<string, bigint>();

function scenarioOp(
  clients: ReturnType<typeof makeClients>,
  protocol: Protocol,
  scenario: Scenario,
  tokens: { large: string },
): (worker: number, i: number) => Promise<void> {
  const { post, grpc, headers } = clients;
  const key = () => `k${Math.floor(Math.random() * KEYS)}`;
  const gv = globalVersions;
  const putRequest = (worker: number) => {
    switch (scenario) {
      case "put1":
        return { storeId: "bench", transactionItems: [{ key: key(), version: -1n, value: VALUE }] };
      case "putCond": {
        // Each worker owns a store and so knows its global version.
        const current = gv.get(`${protocol}-w${worker}`) ?? 0n;
        return {
          storeId: `${protocol}-w${worker}`,
          globalVersion: current,
          transactionItems: [{ key: key(), version: -1n, value: VALUE }],
        };
      }
      default:
        return {
          storeId: "bench",
          transactionItems: [...new Set(Array.from({ length: 10 }, key))].map((k) => ({
            key: k,
            version: -1n,
            value: VALUE,
          })),
        };
    }
  };
  const listRequest = () =>
    scenario === "listFirst"
      ? { storeId: "large", pageSize: 100 }
      : { storeId: "large", pageSize: 100, pageToken: tokens.large };
  return async (worker) => {
    if (scenario === "get") {
      const r = { storeId: "bench", key: key() };
      if (protocol === "binary")
        await post(
          "getObject",
          toBinary(GetObjectRequestSchema, create(GetObjectRequestSchema, r)),
        );
      else await grpc.getObject(r, { headers });
    } else if (scenario === "listFirst" || scenario === "listDeep") {
      const r = listRequest();
      if (protocol === "binary")
        await post(
          "listKeyVersions",
          toBinary(ListKeyVersionsRequestSchema, create(ListKeyVersionsRequestSchema, r)),
        );
      else await grpc.listKeyVersions(r, { headers });
    } else {
      const r = putRequest(worker);
      if (protocol === "binary")
        await post(
          "putObjects",
          toBinary(PutObjectRequestSchema, create(PutObjectRequestSchema, r)),
        );
      else await grpc.putObjects(r, { headers });
      if (scenario === "putCond") {
        gv.set(`${protocol}-w${worker}`, (gv.get(`${protocol}-w${worker}`) ?? 0n) + 1n);
      }
    }
  };
}

/** Peak and current resident memory of a process, from /proc. */
async function memoryOf(pid: number): Promise<{ peakMiB: number; rssMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { peakMiB: kib("VmHWM") / 1024, rssMiB: kib("VmRSS") / 1024 };
}

async function main(): Promise<void> {
  const bin = findPostgresBin();
  if (bin === undefined)
    throw new Error("the benchmark needs PostgreSQL's server binaries (for pgbench)");
  const given = process.env["VSS_BENCH_DATABASE_URL"] ?? process.env["VSS_TEST_DATABASE_URL"];
  const cluster = given === undefined ? await startPostgresCluster(bin) : undefined;
  const adminUrl = given ?? cluster?.url ?? "";
  const dbName = `vss_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${dbName}`;
  const url = dbUrl.toString();
  const pgVersion =
    String((await admin`select version()`)[0]?.["version"]).split(" on ")[0] ?? "PostgreSQL";
  const embeddedDir = await mkdtemp(join(os.tmpdir(), "vss-bench-embedded-"));
  const signer = createTestSigner();
  // As the Rust client does within one second: one header, signed once.
  const authorization = signer.header();
  let server: ServerProcess | undefined;
  let embedded: ServerProcess | undefined;
  try {
    server = await startServerProcess({
      VSS_DATABASE_URL: url,
      VSS_RATE_LIMIT_PER_SEC: "0",
      VSS_MAX_CONCURRENT_PER_IDENTITY: "0",
      VSS_DATABASE_POOL_SIZE: String(CONCURRENCY),
    });
    await populate(url, signer.publicKeyHex);
    const tokens = { large: await deepToken(url, signer.publicKeyHex, "large") };
    const clients = makeClients(server, authorization);

    const results = new Map<string, Measurement[]>();
    const add = (name: string, m: Measurement) => {
      results.set(name, [...(results.get(name) ?? []), m]);
      process.stdout.write(
        `  ${name.padEnd(40)} ${m.opsPerSec.toFixed(0).padStart(7)} ops/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms\n`,
      );
    };
    for (let round = 1; round <= ROUNDS; round++) {
      process.stdout.write(`round ${round}/${ROUNDS}\n`);
      for (const scenario of SCENARIOS) {
        // Alternate who goes first, so drift in the machine's speed spreads evenly.
        const contenders: (() => Promise<void>)[] = [
          async () =>
            add(`${scenario}/binary`, await load(scenarioOp(clients, "binary", scenario, tokens))),
          async () =>
            add(`${scenario}/grpc`, await load(scenarioOp(clients, "grpc", scenario, tokens))),
        ];
        const script = PGBENCH[scenario as keyof typeof PGBENCH];
        if (script !== undefined)
          contenders.push(async () => add(`${scenario}/pgbench`, await pgbench(bin, url, script)));
        if (round % 2 === 0) contenders.reverse();
        for (const run of contenders) await run();
      }
    }

    // The floor of the HTTP layer on this machine: a call that touches nothing.
    for (let round = 1; round <= ROUNDS; round++) {
      add(
        "http/live",
        await load(async () => {
          const res = await clients.pool.request({ path: "/vss/live", method: "GET" });
          await res.body.arrayBuffer();
        }),
      );
    }

    // A deep page in a small store, against the same in a large one.
    const smallToken = await deepToken(url, signer.publicKeyHex, "small");
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [store, token] of [
        ["small", smallToken],
        ["large", tokens.large],
      ] as const) {
        const body = toBinary(
          ListKeyVersionsRequestSchema,
          create(ListKeyVersionsRequestSchema, { storeId: store, pageSize: 100, pageToken: token }),
        );
        add(`list/${store}`, await load(async () => clients.post("listKeyVersions", body)));
      }
    }

    // The embedded store, same put.
    embedded = await startServerProcess({
      VSS_DATA_DIR: embeddedDir,
      VSS_RATE_LIMIT_PER_SEC: "0",
      VSS_MAX_CONCURRENT_PER_IDENTITY: "0",
    });
    const embeddedClients = makeClients(embedded, authorization);
    for (let round = 1; round <= ROUNDS; round++) {
      add("put1/embedded", await load(scenarioOp(embeddedClients, "binary", "put1", tokens)));
    }
    const embeddedMemory = await memoryOf(embedded.child.pid ?? 0);

    // Memory over a soak of mixed gets and puts.
    const soak: { secs: number; rssMiB: number }[] = [];
    if (SOAK_SECS > 0) {
      process.stdout.write(`soak ${SOAK_SECS} s\n`);
      const put = scenarioOp(clients, "binary", "put1", tokens);
      const get = scenarioOp(clients, "binary", "get", tokens);
      const started = performance.now();
      let stop = false;
      const sampler = (async () => {
        while (!stop) {
          soak.push({
            secs: Math.round((performance.now() - started) / 1000),
            rssMiB: (await memoryOf(server?.child.pid ?? 0)).rssMiB,
          });
          await new Promise((r) => setTimeout(r, 10_000));
        }
      })();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, w) => {
          for (let i = 0; performance.now() - started < SOAK_SECS * 1000; i++)
            await (i % 2 === 0 ? put : get)(w, i);
        }),
      );
      stop = true;
      await sampler;
      soak.push({ secs: SOAK_SECS, rssMiB: (await memoryOf(server.child.pid ?? 0)).rssMiB });
    }
    const serverMemory = await memoryOf(server.child.pid ?? 0);
    await clients.pool.close();
    await embeddedClients.pool.close();

    const report = renderReport({ results, pgVersion, serverMemory, embeddedMemory, soak });
    process.stdout.write(`\n${report}\n`);
    await writeFile(
      args.out ?? "BENCHMARKS.md",
      await mergeNotes(args.out ?? "BENCHMARKS.md", report),
    );
  } finally {
    for (const p of [server, embedded]) {
      if (p !== undefined) {
        p.child.kill("SIGTERM");
        await p.exited;
      }
    }
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    cluster?.destroy();
    await rm(embeddedDir, { recursive: true, force: true });
  }
}

interface ReportInput {
  results: Map<string, Measurement[]>;
  pgVersion: string;
  serverMemory: { peakMiB: number; rssMiB: number };
  embeddedMemory: { peakMiB: number; rssMiB: number };
  soak: { secs: number; rssMiB: number }[];
}

function renderReport({
  results,
  pgVersion,
  serverMemory,
  embeddedMemory,
  soak,
}: ReportInput): string {
  const med = (name: string, field: keyof Measurement) =>
    median((results.get(name) ?? []).map((m) => m[field]));
  const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
  const ratio = (a: number, b: number) =>
    Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : "–";
  const lines = [
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}; Node ${process.version}; ${pgVersion}.`,
    `Load: ${CONCURRENCY} concurrent clients, 1 KiB values, ${ROUNDS} alternating rounds of ${DURATION_MS / 1000} s; medians. The load generator, the server and PostgreSQL share the machine.`,
    "",
    "| call | protocol | ops/s | p50 ms | p99 ms | p99.9 ms | pgbench ops/s | ratio |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const scenario of SCENARIOS) {
    const base = med(`${scenario}/pgbench`, "opsPerSec");
    for (const protocol of ["binary", "grpc"] as const) {
      const name = `${scenario}/${protocol}`;
      lines.push(
        `| ${LABELS[scenario]} | ${protocol} | ${fmt(med(name, "opsPerSec"))} | ${fmt(med(name, "p50"), 2)} | ${fmt(med(name, "p99"), 2)} | ${fmt(med(name, "p999"), 2)} | ${fmt(base)} | ${ratio(med(name, "opsPerSec"), base)} |`,
      );
    }
    if (Number.isFinite(base)) {
      lines.push(
        `| ${LABELS[scenario]} | pgbench (reference SQL) | ${fmt(base)} | ${fmt(med(`${scenario}/pgbench`, "p50"), 2)} | ${fmt(med(`${scenario}/pgbench`, "p99"), 2)} | ${fmt(med(`${scenario}/pgbench`, "p999"), 2)} | | |`,
      );
    }
  }
  const put = med("put1/binary", "opsPerSec");
  const embeddedPut = med("put1/embedded", "opsPerSec");
  const small = med("list/small", "opsPerSec");
  const large = med("list/large", "opsPerSec");
  lines.push(
    "",
    "| target | reached |",
    "| --- | --- |",
    `| put ≥ 1.0x pgbench (1 item) | ${ratio(put, med("put1/pgbench", "opsPerSec"))} binary, ${ratio(med("put1/grpc", "opsPerSec"), med("put1/pgbench", "opsPerSec"))} gRPC |`,
    `| put ≥ 1.0x pgbench (with global_version) | ${ratio(med("putCond/binary", "opsPerSec"), med("putCond/pgbench", "opsPerSec"))} binary |`,
    `| put ≥ 1.0x pgbench (10 items) | ${ratio(med("put10/binary", "opsPerSec"), med("put10/pgbench", "opsPerSec"))} binary |`,
    `| get ≥ 0.6x pgbench | ${ratio(med("get/binary", "opsPerSec"), med("get/pgbench", "opsPerSec"))} binary, ${ratio(med("get/grpc", "opsPerSec"), med("get/pgbench", "opsPerSec"))} gRPC |`,
    `| deep page in 100k keys costs as in 1k | ${fmt(large)} vs ${fmt(small)} ops/s (${ratio(large, small)}) |`,
    `| embedded put ≥ 0.3x PostgreSQL put | ${fmt(embeddedPut)} vs ${fmt(put)} ops/s (${ratio(embeddedPut, put)}) |`,
    `| (the HTTP layer alone: GET /vss/live, no database) | ${fmt(med("http/live", "opsPerSec"))} ops/s, p50 ${fmt(med("http/live", "p50"), 2)} ms |`,
    `| server memory | peak ${fmt(serverMemory.peakMiB)} MiB (PostgreSQL store), ${fmt(embeddedMemory.peakMiB)} MiB (embedded) |`,
  );
  if (soak.length > 1) {
    const first = soak[1] ?? soak[0];
    const last = soak.at(-1);
    lines.push(
      `| RSS flat over a ${soak.at(-1)?.secs ?? 0} s soak | ${soak.map((s) => `${s.secs}s: ${fmt(s.rssMiB)}`).join(", ")} MiB (${fmt(first?.rssMiB ?? Number.NaN)} → ${fmt(last?.rssMiB ?? Number.NaN)}) |`,
    );
  }
  return lines.join("\n");
}

const BEGIN = "<!-- bench:begin -->";
const END = "<!-- bench:end -->";

/** Replaces the figures in `file` between the markers, keeping the analysis around them. */
async function mergeNotes(file: string, report: string): Promise<string> {
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch {
    text = `# Benchmarks\n\nProduced by \`npm run bench\`.\n\n${BEGIN}\n${END}\n`;
  }
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start === -1 || end === -1) return `${text}\n${BEGIN}\n${report}\n${END}\n`;
  return `${text.slice(0, start + BEGIN.length)}\n${report}\n${text.slice(end)}`;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
