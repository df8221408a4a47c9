/**
 * The storage interface of the core. An implementation keeps the contract's
 * compare-and-set semantics; the service validates requests before calling it,
 * so a store may assume well-formed, distinct keys and versions >= -1.
 */

/** One keyspace: the authenticated user and a store of theirs. */
export interface Scope {
  readonly userToken: string;
  readonly storeId: string;
}

/** A key to write: version 0 creates, n > 0 updates from n, -1 upserts. */
export interface PutItem {
  readonly key: string;
  readonly version: bigint;
  readonly value: Uint8Array;
}

/** A key to delete: version -1 deletes unconditionally, else it must match. */
export interface DeleteItem {
  readonly key: string;
  readonly version: bigint;
}

/** One all-or-nothing write. */
export interface PutBatch {
  /** When set, the store's global version must equal it, and is bumped. */
  readonly globalVersion?: bigint;
  readonly items: readonly PutItem[];
  readonly deletes: readonly DeleteItem[];
}

/** A stored key with its version and value. */
export interface StoredObject {
  readonly key: string;
  readonly version: bigint;
  readonly value: Uint8Array;
}

/** One key of a listing, with its position for paging. */
export interface ListedKey {
  readonly key: string;
  readonly version: bigint;
  /** Creation order: larger is newer. Used as the page cursor. */
  readonly position: bigint;
}

/** What to list. */
export interface ListQuery {
  /** Only keys starting with this string, compared literally. */
  readonly prefix: string;
  /** At most this many keys. */
  readonly limit: number;
  /** Only keys created before this position (exclusive); none: from the newest. */
  readonly before?: bigint;
  /** Also read the store's global version, in the same snapshot as the keys. */
  readonly withGlobalVersion: boolean;
}

/** A page of keys, newest first by creation. */
export interface ListResult {
  readonly keys: readonly ListedKey[];
  /** Present when asked for. */
  readonly globalVersion?: bigint;
}

/** The key under which a store's global version is kept. */
export const GLOBAL_VERSION_KEY = "global_version";

/**
 * Persistent storage for VSS. Failures are thrown as VssError: `conflict`
 * when a version check fails (and nothing was changed), `internal` otherwise.
 */
export interface VssStore {
  /** The object at `key`, or undefined when it does not exist. */
  get(scope: Scope, key: string): Promise<StoredObject | undefined>;
  /** The store's global version; 0 if it was never set. */
  getGlobalVersion(scope: Scope): Promise<bigint>;
  /** Applies every item, delete and the global-version check, or nothing. */
  put(scope: Scope, batch: PutBatch): Promise<void>;
  /** Deletes `key` if its version matches (-1: any); true if a row was deleted. */
  delete(scope: Scope, item: DeleteItem): Promise<boolean>;
  /** A page of keys, newest first by creation, never the global version's row. */
  list(scope: Scope, query: ListQuery): Promise<ListResult>;
  /** Resolves when the database answers; throws VssError otherwise. */
  ping(): Promise<void>;
  /** Connections the store may use, and operations running now (for metrics). */
  stats(): { readonly poolSize: number; readonly inFlight: number };
  /** Releases connections. */
  close(): Promise<void>;
}
