/** Read access to request headers, as every transport can provide them. */
export interface RequestHeaders {
  /** The header's value, or null when absent. Names are case-insensitive. */
  get(name: string): string | null;
}

/**
 * Turns request headers into the caller's identity. Implementations throw a
 * VssError of kind `auth` when the caller cannot be identified; they never
 * read the request body. An identity is non-empty and at most 120 characters.
 */
export interface Authorizer {
  authorize(headers: RequestHeaders): Promise<string>;
}
