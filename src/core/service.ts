import { create } from "@bufbuild/protobuf";
import {
  type DeleteObjectRequest,
  type DeleteObjectResponse,
  DeleteObjectResponseSchema,
  type GetObjectRequest,
  type GetObjectResponse,
  GetObjectResponseSchema,
  type ListKeyVersionsRequest,
  type ListKeyVersionsResponse,
  ListKeyVersionsResponseSchema,
  type PutObjectRequest,
  type PutObjectResponse,
  PutObjectResponseSchema,
} from "../../gen/vss/vss_pb.js";
import { authError, invalidRequest, VssError } from "./errors.js";
import type { ServiceLimits } from "./limits.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { GLOBAL_VERSION_KEY, type PutItem, type Scope, type VssStore } from "./store.js";

const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const EMPTY = new Uint8Array(0);
const MAX_IDENTITY_LENGTH = 120;

/**
 * The four VSS calls, independent of any transport. `userToken` is the
 * identity the authorizer established; it is never read from the request.
 * Every rule of the contract is checked before the store is touched, so a bad
 * request fails with INVALID_REQUEST and changes nothing.
 */
export interface VssService {
  getObject(userToken: string, request: GetObjectRequest): Promise<GetObjectResponse>;
  putObjects(userToken: string, request: PutObjectRequest): Promise<PutObjectResponse>;
  deleteObject(userToken: string, request: DeleteObjectRequest): Promise<DeleteObjectResponse>;
  listKeyVersions(
    userToken: string,
    request: ListKeyVersionsRequest,
  ): Promise<ListKeyVersionsResponse>;
}

/** Dependencies of {@link createVssService}. */
export interface VssServiceOptions {
  readonly store: VssStore;
  readonly limits: ServiceLimits;
}

/** Builds the one implementation of the VSS calls that every transport uses. */
export function createVssService({ store, limits }: VssServiceOptions): VssService {
  const scopeOf = (userToken: string, storeId: string): Scope => {
    // Authorizers promise this; the store's keyspace depends on it, so check.
    if (userToken.length === 0 || [...userToken].length > MAX_IDENTITY_LENGTH) {
      throw authError("the authenticated identity must be 1 to 120 characters");
    }
    checkText("store_id", storeId, limits.maxStoreIdLength);
    return { userToken, storeId };
  };
  const checkKey = (field: string, key: string): void => {
    if (key.length === 0) throw invalidRequest(`${field} must not be empty`);
    checkText(field, key, limits.maxKeyLength);
  };

  return {
    async getObject(userToken, request) {
      const scope = scopeOf(userToken, request.storeId);
      checkKey("key", request.key);
      if (request.key === GLOBAL_VERSION_KEY) {
        const version = await store.getGlobalVersion(scope);
        return create(GetObjectResponseSchema, {
          value: { key: GLOBAL_VERSION_KEY, version, value: EMPTY },
        });
      }
      const found = await store.get(scope, request.key);
      if (found === undefined) {
        throw new VssError("no_such_key", `no such key: ${request.key}`);
      }
      return create(GetObjectResponseSchema, { value: found });
    },

    async putObjects(userToken, request) {
      const scope = scopeOf(userToken, request.storeId);
      const count = request.transactionItems.length + request.deleteItems.length;
      if (count > limits.maxItemsPerPut) {
        throw invalidRequest(
          `too many items: ${count} (transaction_items plus delete_items), at most ${limits.maxItemsPerPut}`,
        );
      }
      const { globalVersion } = request;
      if (globalVersion !== undefined) {
        if (globalVersion < 0n) throw invalidRequest("global_version must not be negative");
        if (globalVersion === INT64_MAX) {
          throw invalidRequest("global_version is at the int64 maximum and cannot be bumped");
        }
      }
      const seen = new Set<string>();
      const items: PutItem[] = request.transactionItems.map((item, i) => {
        const field = `transaction_items[${i}]`;
        checkWritableKey(`${field}.key`, item.key, seen, checkKey);
        if (item.version < -1n) throw invalidRequest(`${field}.version must be -1, 0 or positive`);
        if (item.version === INT64_MAX) {
          throw invalidRequest(`${field}.version is at the int64 maximum and cannot be bumped`);
        }
        return { key: item.key, version: item.version, value: item.value };
      });
      const deletes = request.deleteItems.map((item, i) => {
        const field = `delete_items[${i}]`;
        checkWritableKey(`${field}.key`, item.key, seen, checkKey);
        if (item.version < -1n) throw invalidRequest(`${field}.version must be -1, 0 or positive`);
        return { key: item.key, version: item.version };
      });
      await store.put(
        scope,
        globalVersion === undefined ? { items, deletes } : { globalVersion, items, deletes },
      );
      return create(PutObjectResponseSchema);
    },

    async deleteObject(userToken, request) {
      const scope = scopeOf(userToken, request.storeId);
      const item = request.keyValue;
      if (item === undefined) throw invalidRequest("key_value is required");
      checkKey("key_value.key", item.key);
      if (item.key === GLOBAL_VERSION_KEY) {
        throw invalidRequest(`${GLOBAL_VERSION_KEY} cannot be deleted`);
      }
      if (item.version < -1n) throw invalidRequest("key_value.version must be -1, 0 or positive");
      await store.delete(scope, { key: item.key, version: item.version });
      return create(DeleteObjectResponseSchema);
    },

    async listKeyVersions(userToken, request) {
      const scope = scopeOf(userToken, request.storeId);
      const prefix = request.keyPrefix ?? "";
      checkText("key_prefix", prefix, limits.maxKeyLength);
      const asked = request.pageSize;
      if (asked !== undefined && asked < 0) throw invalidRequest("page_size must not be negative");
      // 0 or absent: the server chooses. A full page is the safest choice: an
      // empty page with an empty token would read as an empty store.
      const limit =
        asked === undefined || asked === 0
          ? limits.maxPageSize
          : Math.min(asked, limits.maxPageSize);
      const token = request.pageToken;
      const before = token === undefined || token === "" ? undefined : decodePageToken(token);
      const firstPage = before === undefined;
      // One more than the page, to know whether another page follows.
      const result = await store.list(scope, {
        prefix,
        limit: limit + 1,
        withGlobalVersion: firstPage,
        ...(before === undefined ? {} : { before }),
      });
      const keys = result.keys.slice(0, limit);
      const more = result.keys.length > limit;
      const last = keys.at(-1);
      return create(ListKeyVersionsResponseSchema, {
        keyVersions: keys.map((k) => ({ key: k.key, version: k.version, value: EMPTY })),
        // Always present, empty on the last page: LDK Node stops on Some("").
        nextPageToken: more && last !== undefined ? encodePageToken(last.position) : "",
        ...(firstPage ? { globalVersion: result.globalVersion ?? 0n } : {}),
      });
    },
  };
}

function checkWritableKey(
  field: string,
  key: string,
  seen: Set<string>,
  checkKey: (field: string, key: string) => void,
): void {
  checkKey(field, key);
  if (key === GLOBAL_VERSION_KEY) {
    throw invalidRequest(`${field}: ${GLOBAL_VERSION_KEY} is reserved; use global_version`);
  }
  if (seen.has(key)) throw invalidRequest(`${field}: duplicate key ${JSON.stringify(key)}`);
  seen.add(key);
}

/** Length in characters (code points, as PostgreSQL counts) and no NUL. */
function checkText(field: string, value: string, max: number): void {
  // UTF-16 length bounds the code-point count from above: count only if needed.
  if (value.length > max && [...value].length > max) {
    throw invalidRequest(`${field} is longer than ${max} characters`);
  }
  if (value.includes("\u0000")) throw invalidRequest(`${field} must not contain NUL characters`);
}
