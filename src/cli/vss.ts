#!/usr/bin/env node
// `vss`: a command-line VSS client (keys, reads, writes, listing, export and
// import), plus operator commands that work on the server's database directly.
import { randomBytes } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { createInterface } from "node:readline/promises";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { HDKey } from "@scure/bip32";
import { SingleBar } from "cli-progress";
import { Command, InvalidArgumentError, Option } from "commander";
import postgres from "postgres";
import {
  type AuthProvider,
  createVssClient,
  jwtAuth,
  lnurlAuth,
  signatureAuth,
  type VssClient,
  VssClientError,
  type VssProtocol,
} from "../client/index.js";

interface ClientOptions {
  url: string;
  store: string;
  protocol: VssProtocol;
  auth: "signature" | "jwt" | "lnurl" | "none";
  key?: string;
  token?: string;
  lnurlUrl?: string;
  seed?: string;
}

const hex = (name: string) => (value: string) => {
  if (!/^[0-9a-fA-F]+$/.test(value) || value.length % 2 !== 0) {
    throw new InvalidArgumentError(`${name} must be hex`);
  }
  return value;
};
const version = (value: string) => {
  if (!/^-?[0-9]+$/.test(value)) throw new InvalidArgumentError("a version is a whole number");
  return BigInt(value);
};

function withClientOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--url <url>", "server origin").env("VSS_URL").default("http://127.0.0.1:8080"),
    )
    .addOption(new Option("--store <id>", "store id").env("VSS_STORE_ID").default(""))
    .addOption(
      new Option("--protocol <protocol>", "wire protocol")
        .choices(["binary", "connect", "grpc-web", "grpc"])
        .default("binary"),
    )
    .addOption(
      new Option("--auth <scheme>", "authentication")
        .choices(["signature", "jwt", "lnurl", "none"])
        .default("signature"),
    )
    .addOption(
      new Option("--key <hex>", "secp256k1 secret key for signature auth")
        .env("VSS_CLIENT_KEY")
        .argParser(hex("--key")),
    )
    .addOption(new Option("--token <jwt>", "bearer token for jwt auth").env("VSS_CLIENT_TOKEN"))
    .addOption(new Option("--lnurl-url <url>", "LNURL-auth endpoint for lnurl auth"))
    .addOption(
      new Option("--seed <hex>", "seed whose m/138' is the LNURL-auth parent key")
        .env("VSS_CLIENT_SEED")
        .argParser(hex("--seed")),
    );
}

function clientFrom(options: ClientOptions): VssClient {
  let auth: AuthProvider | undefined;
  switch (options.auth) {
    case "signature":
      if (options.key === undefined)
        fail("signature auth needs --key (or VSS_CLIENT_KEY); make one with `vss keygen`");
      auth = signatureAuth(hexToBytes(options.key));
      break;
    case "jwt":
      if (options.token === undefined) fail("jwt auth needs --token (or VSS_CLIENT_TOKEN)");
      auth = jwtAuth(options.token);
      break;
    case "lnurl":
      if (options.lnurlUrl === undefined || options.seed === undefined)
        fail("lnurl auth needs --lnurl-url and --seed");
      auth = lnurlAuth({
        url: options.lnurlUrl,
        parentKey: HDKey.fromMasterSeed(hexToBytes(options.seed)).deriveChild(0x8000_0000 + 138),
      });
      break;
    default:
      auth = undefined;
  }
  return createVssClient({
    baseUrl: options.url,
    storeId: options.store,
    protocol: options.protocol,
    ...(auth === undefined ? {} : { auth }),
  });
}

class CliError extends Error {}

function fail(message: string): never {
  throw new CliError(message);
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One exported key per line. */
interface ExportLine {
  key: string;
  version: string;
  value: string; // base64
}

const program = new Command()
  .name("vss")
  .description("Command-line client and operator tool for Versioned Storage Service servers")
  .showHelpAfterError();

program
  .command("keygen")
  .description(
    "print a new secp256k1 secret key (for --key / VSS_CLIENT_KEY) and its public key (the identity)",
  )
  .action(() => {
    const secret = randomBytes(32);
    process.stdout.write(
      `secret ${secret.toString("hex")}\npublic ${bytesToHex(secp256k1.getPublicKey(secret, true))}\n`,
    );
  });

withClientOptions(program.command("get").argument("<key>").description("print a key's value"))
  .addOption(
    new Option("--encoding <encoding>", "how to print the value")
      .choices(["raw", "base64", "hex"])
      .default("raw"),
  )
  .action(async (key: string, options: ClientOptions & { encoding: "raw" | "base64" | "hex" }) => {
    const item = await clientFrom(options).get(key);
    process.stderr.write(`version ${item.version}\n`);
    if (options.encoding === "raw") process.stdout.write(item.value);
    else process.stdout.write(`${Buffer.from(item.value).toString(options.encoding)}\n`);
  });

withClientOptions(
  program.command("put").argument("<key>").argument("[value]", "the value; else --file or stdin"),
)
  .description("write a key (version 0 creates it; n updates from n; -1 overwrites)")
  .option("--file <path>", "read the value from a file")
  .option("--version <n>", "expected version", version, 0n)
  .option("--global-version <n>", "the store's expected global version", version)
  .action(
    async (
      key: string,
      value: string | undefined,
      options: ClientOptions & { file?: string; version: bigint; globalVersion?: bigint },
    ) => {
      const bytes =
        value !== undefined
          ? new TextEncoder().encode(value)
          : options.file !== undefined
            ? readFileSync(options.file)
            : await readStdin();
      await clientFrom(options).put(
        [{ key, version: options.version, value: bytes }],
        options.globalVersion === undefined ? {} : { globalVersion: options.globalVersion },
      );
      process.stderr.write(`written ${key}\n`);
    },
  );

withClientOptions(program.command("delete").argument("<key>").description("delete a key"))
  .option("--version <n>", "expected version (-1: any)", version, -1n)
  .action(async (key: string, options: ClientOptions & { version: bigint }) => {
    await clientFrom(options).delete(key, options.version);
    process.stderr.write(`deleted ${key} (if it was there at that version)\n`);
  });

withClientOptions(program.command("list").description("list keys and versions, newest first"))
  .option("--prefix <prefix>", "only keys starting with this")
  .option("--page-size <n>", "keys per page", (v) => Number.parseInt(v, 10))
  .option("--page-token <token>", "continue from this page")
  .option("--all", "every page, not just one")
  .action(
    async (
      options: ClientOptions & {
        prefix?: string;
        pageSize?: number;
        pageToken?: string;
        all?: boolean;
      },
    ) => {
      const client = clientFrom(options);
      const query = {
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
        ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
      };
      if (options.all) {
        for await (const k of client.listAll(query))
          process.stdout.write(`${k.version}\t${k.key}\n`);
        return;
      }
      const page = await client.list({
        ...query,
        ...(options.pageToken === undefined ? {} : { pageToken: options.pageToken }),
      });
      for (const k of page.keys) process.stdout.write(`${k.version}\t${k.key}\n`);
      if (page.globalVersion !== undefined)
        process.stderr.write(`global_version ${page.globalVersion}\n`);
      if (page.nextPageToken !== undefined)
        process.stderr.write(`next page: --page-token ${page.nextPageToken}\n`);
    },
  );

withClientOptions(program.command("export").description("write a whole store to a JSON Lines file"))
  .requiredOption("--out <file>", "the JSON Lines file")
  .option("--page-size <n>", "keys per page", (v) => Number.parseInt(v, 10), 100)
  .action(async (options: ClientOptions & { out: string; pageSize: number }) => {
    const client = clientFrom(options);
    // Resumable: the next page token is kept beside the file until the end.
    const stateFile = `${options.out}.state`;
    let pageToken = existsSync(stateFile)
      ? readFileSync(stateFile, "utf8").trim() || undefined
      : undefined;
    if (pageToken === undefined && existsSync(options.out))
      fail(`${options.out} exists: remove it, or resume with its .state file`);
    const out = createWriteStream(options.out, { flags: pageToken === undefined ? "w" : "a" });
    const bar = new SingleBar({
      format: "export {bar} {value} keys",
      stream: process.stderr,
      noTTYOutput: false,
    });
    bar.start(0, 0);
    let count = 0;
    for (let pages = 0; pages < 10_000_000; pages++) {
      const page = await client.list({
        pageSize: options.pageSize,
        ...(pageToken === undefined ? {} : { pageToken }),
      });
      for (const k of page.keys) {
        const item = await client.get(k.key);
        const line: ExportLine = {
          key: k.key,
          version: String(item.version),
          value: Buffer.from(item.value).toString("base64"),
        };
        out.write(`${JSON.stringify(line)}\n`);
        count++;
      }
      bar.setTotal(count);
      bar.update(count);
      pageToken = page.nextPageToken;
      await new Promise<void>((resolve, reject) =>
        out.write("", (e) => (e ? reject(e) : resolve())),
      );
      if (pageToken === undefined) break;
      writeFileSync(stateFile, pageToken);
    }
    bar.stop();
    await new Promise<void>((resolve) => out.end(resolve));
    if (existsSync(stateFile)) writeFileSync(stateFile, "");
    process.stderr.write(`exported ${count} keys to ${options.out}\n`);
  });

withClientOptions(
  program.command("import").description("write the keys of a JSON Lines export into a store"),
)
  .requiredOption("--in <file>", "the JSON Lines file")
  .option("--overwrite", "replace keys that exist (version -1); else only create (version 0)")
  .action(async (options: ClientOptions & { in: string; overwrite?: boolean }) => {
    const client = clientFrom(options);
    const lines = createInterface({
      input: createReadStream(options.in),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let batch: { key: string; version: bigint; value: Uint8Array; target: bigint }[] = [];
    let written = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await client.put(batch.map(({ key, version, value }) => ({ key, version, value })));
      // VSS cannot set a version: step each key up to its exported version.
      for (const item of batch) {
        for (let v = 1n; v < item.target; v++)
          await client.put([{ key: item.key, version: v, value: item.value }]);
      }
      written += batch.length;
      batch = [];
    };
    for await (const text of lines) {
      if (text.trim() === "") continue;
      const line = JSON.parse(text) as ExportLine;
      batch.push({
        key: line.key,
        version: options.overwrite ? -1n : 0n,
        value: Buffer.from(line.value, "base64"),
        target: BigInt(line.version),
      });
      if (batch.length === 100) await flush();
    }
    await flush();
    process.stderr.write(`imported ${written} keys\n`);
  });

const admin = program
  .command("admin")
  .description("operator commands on the server's PostgreSQL database");

admin
  .command("usage")
  .description("keys, bytes and last write per identity")
  .addOption(
    new Option("--database-url <url>", "the server's database")
      .env("VSS_DATABASE_URL")
      .makeOptionMandatory(),
  )
  .action(async (options: { databaseUrl: string }) => {
    const sql = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`
        select user_token, count(*) filter (where key <> 'global_version')::text as keys,
               coalesce(sum(octet_length(key) + coalesce(octet_length(value), 0)), 0)::text as bytes,
               max(last_updated_at) as last_write
        from vss_db group by user_token order by user_token`;
      process.stdout.write("identity\tkeys\tbytes\tlast write\n");
      for (const r of rows) {
        process.stdout.write(
          `${r["user_token"]}\t${r["keys"]}\t${r["bytes"]}\t${(r["last_write"] as Date | null)?.toISOString() ?? "-"}\n`,
        );
      }
    } finally {
      await sql.end();
    }
  });

admin
  .command("delete-identity")
  .argument("<identity>", "the user token (e.g. a public key hex)")
  .description("delete every key of one identity, in every store")
  .addOption(
    new Option("--database-url <url>", "the server's database")
      .env("VSS_DATABASE_URL")
      .makeOptionMandatory(),
  )
  .option("--yes", "do not ask for confirmation")
  .action(async (identity: string, options: { databaseUrl: string; yes?: boolean }) => {
    const sql = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [{ n } = { n: "0" }] =
        await sql`select count(*)::text as n from vss_db where user_token = ${identity}`;
      if (n === "0") fail(`no data for identity ${identity}`);
      if (!options.yes) {
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(
          `delete ${n} rows of ${identity}? type the identity to confirm: `,
        );
        rl.close();
        if (answer.trim() !== identity) fail("not confirmed; nothing deleted");
      }
      await sql.begin(async (tx) => {
        await tx`delete from vss_db where user_token = ${identity}`;
        await tx`delete from vss_user_usage where user_token = ${identity}`;
      });
      process.stderr.write(`deleted ${n} rows of ${identity}\n`);
    } finally {
      await sql.end();
    }
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  const message =
    error instanceof CliError
      ? error.message
      : error instanceof VssClientError
        ? `${error.kind}: ${error.message}`
        : error instanceof Error
          ? error.message
          : String(error);
  process.stderr.write(`vss: ${message}\n`);
  process.exit(error instanceof VssClientError && error.kind === "no_such_key" ? 3 : 1);
});
