/**
 * Single-use login challenges (LNURL-auth `k1`), shared by every instance of
 * the server through the database so a login may cross instances.
 */
export interface ChallengeStore {
  /** Records a new challenge that may be consumed until `expiresAt`. */
  issue(k1: string, expiresAt: Date): Promise<void>;
  /**
   * Consumes a challenge: true exactly once for an issued, unexpired `k1`,
   * false otherwise (unknown, expired or already used), even under races.
   */
  consume(k1: string): Promise<boolean>;
}
