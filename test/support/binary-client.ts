import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  DeleteObjectRequestSchema,
  DeleteObjectResponseSchema,
  ErrorCode,
  ErrorResponseSchema,
  GetObjectRequestSchema,
  GetObjectResponseSchema,
  ListKeyVersionsRequestSchema,
  ListKeyVersionsResponseSchema,
  PutObjectRequestSchema,
  PutObjectResponseSchema,
} from "../../gen/vss/vss_pb.js";

/** A failed call of the binary form: its HTTP status and decoded ErrorResponse. */
export class BinaryCallError extends Error {
  override readonly name = "BinaryCallError";
  constructor(
    readonly status: number,
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(`${status} ${ErrorCode[errorCode]}: ${message}`);
  }
}

/**
 * A client of the binary HTTP form that behaves like the Rust client: POST
 * the serialized request, decode the response on 2xx and an ErrorResponse
 * otherwise, and insist on `vss-protocol-version: 0`.
 */
export function createBinaryClient(baseUrl: string, authorization: () => string | undefined) {
  const call = async <I extends DescMessage, O extends DescMessage>(
    path: string,
    input: I,
    output: O,
    request: MessageInitShape<I>,
  ): Promise<MessageShape<O>> => {
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    const auth = authorization();
    if (auth !== undefined) headers["authorization"] = auth;
    const response = await fetch(`${baseUrl}/vss/${path}`, {
      method: "POST",
      headers,
      body: toBinary(input, create(input, request)),
    });
    const body = new Uint8Array(await response.arrayBuffer());
    if (response.headers.get("vss-protocol-version") !== "0") {
      throw new Error(`response without vss-protocol-version: 0 (status ${response.status})`);
    }
    if (!response.ok) {
      const error = fromBinary(ErrorResponseSchema, body);
      throw new BinaryCallError(response.status, error.errorCode, error.message);
    }
    return fromBinary(output, body);
  };
  return {
    getObject: (r: MessageInitShape<typeof GetObjectRequestSchema>) =>
      call("getObject", GetObjectRequestSchema, GetObjectResponseSchema, r),
    putObjects: (r: MessageInitShape<typeof PutObjectRequestSchema>) =>
      call("putObjects", PutObjectRequestSchema, PutObjectResponseSchema, r),
    deleteObject: (r: MessageInitShape<typeof DeleteObjectRequestSchema>) =>
      call("deleteObject", DeleteObjectRequestSchema, DeleteObjectResponseSchema, r),
    listKeyVersions: (r: MessageInitShape<typeof ListKeyVersionsRequestSchema>) =>
      call("listKeyVersions", ListKeyVersionsRequestSchema, ListKeyVersionsResponseSchema, r),
  };
}

/** The client type {@link createBinaryClient} returns. */
export type BinaryClient = ReturnType<typeof createBinaryClient>;
