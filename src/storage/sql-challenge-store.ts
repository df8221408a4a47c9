import { and, eq, gt, lt } from "drizzle-orm";
import type { ChallengeStore } from "../core/challenge-store.js";
import { toVssError } from "./db-errors.js";
import { vssLnurlChallenges } from "./schema.js";
import type { AnyPgDatabase } from "./sql-store.js";

/** LNURL-auth challenges in the same database as the data. */
export function createSqlChallengeStore(db: AnyPgDatabase): ChallengeStore {
  return {
    async issue(k1, expiresAt) {
      try {
        // Sweep what expired, so abandoned logins do not pile up.
        await db.delete(vssLnurlChallenges).where(lt(vssLnurlChallenges.expiresAt, new Date()));
        await db.insert(vssLnurlChallenges).values({ k1, expiresAt });
      } catch (error) {
        throw toVssError(error);
      }
    },
    async consume(k1) {
      try {
        // DELETE ... RETURNING: of concurrent attempts, exactly one gets the row.
        const rows = await db
          .delete(vssLnurlChallenges)
          .where(and(eq(vssLnurlChallenges.k1, k1), gt(vssLnurlChallenges.expiresAt, new Date())))
          .returning({ k1: vssLnurlChallenges.k1 });
        return rows.length === 1;
      } catch (error) {
        throw toVssError(error);
      }
    },
  };
}
