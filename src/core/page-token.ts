import { invalidRequest } from "./errors.js";

const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const TOKEN = /^[1-9][0-9]{0,18}$/;

/**
 * Page tokens carry the creation position of the last key of a page. Keys
 * created later get larger positions, so paging by position neither skips nor
 * repeats a key that exists throughout, whatever is inserted or deleted.
 */
export function encodePageToken(position: bigint): string {
  return position.toString(10);
}

/** The position in `token`; INVALID_REQUEST when it is not one we issued. */
export function decodePageToken(token: string): bigint {
  if (!TOKEN.test(token)) throw invalidRequest("malformed page_token");
  const position = BigInt(token);
  if (position > INT64_MAX) throw invalidRequest("malformed page_token");
  return position;
}
