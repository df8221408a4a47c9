/** Bounds the service enforces on every request. */
export interface ServiceLimits {
  /** Items (transaction_items plus delete_items) in one PutObjects. */
  readonly maxItemsPerPut: number;
  /** Characters in a key. */
  readonly maxKeyLength: number;
  /** Characters in a store_id. */
  readonly maxStoreIdLength: number;
  /** Keys in one ListKeyVersions page; also the page size when none is asked. */
  readonly maxPageSize: number;
}

/** The reference servers' limits, which existing clients rely on. */
export const DEFAULT_LIMITS: ServiceLimits = {
  maxItemsPerPut: 1000,
  maxKeyLength: 600,
  maxStoreIdLength: 120,
  maxPageSize: 100,
};
