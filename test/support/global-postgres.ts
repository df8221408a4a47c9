import type { TestProject } from "vitest/node";
import { findPostgresBin, startPostgresCluster } from "./postgres-cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of a PostgreSQL server for the tests, or "" when none. */
    postgresUrl: string;
  }
}

/**
 * Finds a PostgreSQL for the suite: VSS_TEST_DATABASE_URL when set, else a
 * throwaway cluster when the server binaries are installed. In CI a missing
 * PostgreSQL is an error: the PostgreSQL suite must never be skipped there.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const given = process.env["VSS_TEST_DATABASE_URL"];
  if (given !== undefined && given !== "") {
    project.provide("postgresUrl", given);
    return () => {};
  }
  const bin = findPostgresBin();
  if (bin === undefined) {
    if (process.env["CI"] === "true") {
      throw new Error("CI=true but no PostgreSQL: set VSS_TEST_DATABASE_URL");
    }
    process.stdout.write(
      "\n*** PostgreSQL skipped: no VSS_TEST_DATABASE_URL and no server binaries; the embedded store only ***\n\n",
    );
    project.provide("postgresUrl", "");
    return () => {};
  }
  const cluster = await startPostgresCluster(bin);
  process.stdout.write(`\nthrowaway PostgreSQL on 127.0.0.1:${cluster.port}\n`);
  project.provide("postgresUrl", cluster.url);
  return cluster.destroy;
}
