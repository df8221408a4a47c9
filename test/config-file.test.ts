import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { createBinaryClient } from "./support/binary-client.js";
import { postgresAdminUrl } from "./support/databases.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const rsaPem = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .publicKey.export({ type: "spki", format: "pem" })
  .toString();

describe("the TOML configuration file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vss-toml-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const file = async (text: string) => {
    const path = join(dir, `${randomBytes(4).toString("hex")}.toml`);
    await writeFile(path, text);
    return path;
  };

  it("reads the reference server's layout, from the first argument or VSS_CONFIG", async () => {
    const path = await file(`
[server_config]
bind_address = "127.0.0.1:9090"
max_request_body_size = 2097152

[jwt_auth_config]
rsa_pem = """${rsaPem}"""

[postgresql_config]
username = "vss"
password = "p@ss word"
address = "db.internal:5433"
default_database = "postgres"
vss_database = "vss_prod"

[log_config]
level = "warn"
`);
    for (const config of [loadConfig({}, [path]), loadConfig({ VSS_CONFIG: path })]) {
      expect(config.port).toBe(9090);
      expect(config.maxRequestBodySize).toBe(2097152);
      expect(config.logLevel).toBe("warn");
      expect(config.auth.mode).toBe("jwt");
      expect(config.database).toMatchObject({
        kind: "postgres",
        url: "postgres://vss:p%40ss%20word@db.internal:5433/vss_prod",
        createDatabase: {
          adminUrl: "postgres://vss:p%40ss%20word@db.internal:5433/postgres",
          name: "vss_prod",
        },
      });
    }
  });

  it("lets environment variables override the file", async () => {
    const path = await file(
      `[server_config]\nbind_address = "127.0.0.1:9090"\n[log_config]\nlevel = "warn"\n`,
    );
    const config = loadConfig({ VSS_BIND_ADDRESS: "127.0.0.1:7070" }, [path]);
    expect(config.port).toBe(7070);
    expect(config.logLevel).toBe("warn");
  });

  it("names the file and key of a bad value", async () => {
    const path = await file(`[server_config]\nbind_address = "nowhere"\n`);
    expect(() => loadConfig({}, [path])).toThrow(ConfigError);
    expect(() => loadConfig({}, [path])).toThrow(
      `[server_config] bind_address in ${path}: expected host:port`,
    );
  });

  it("refuses a file that is not TOML or does not exist", async () => {
    const broken = await file("this is = = not toml");
    expect(() => loadConfig({}, [broken])).toThrow(/^VSS_CONFIG: cannot read/);
    expect(() => loadConfig({}, [join(dir, "missing.toml")])).toThrow(/^VSS_CONFIG: cannot read/);
  });

  const adminUrl = postgresAdminUrl();
  it.skipIf(adminUrl === undefined)(
    "creates vss_database when only [postgresql_config] is given, then serves from it",
    async () => {
      const admin = new URL(adminUrl ?? "");
      const name = `vss_toml_${randomBytes(4).toString("hex")}`;
      const path = await file(`
[postgresql_config]
username = "${decodeURIComponent(admin.username)}"
password = "${decodeURIComponent(admin.password)}"
address = "${admin.host}"
default_database = "${admin.pathname.slice(1)}"
vss_database = "${name}"
`);
      const config = {
        ...loadConfig({ VSS_BIND_ADDRESS: "127.0.0.1:0", VSS_LOG_LEVEL: "silent" }, [path]),
      };
      const app = await startServer(config.database);
      const sql = postgres(adminUrl ?? "", { max: 1, onnotice: () => {} });
      try {
        expect(await sql`select 1 from pg_database where datname = ${name}`).toHaveLength(1);
        const signer = createTestSigner();
        await createBinaryClient(app.url, () => signer.header()).listKeyVersions({ storeId: "s" });
      } finally {
        await app.close();
        await sql.unsafe(`drop database if exists ${name} with (force)`);
        await sql.end();
      }
    },
  );
});
