import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorCode, type ErrorResponse, ErrorResponseSchema } from "../../gen/vss/vss_pb.js";
import { VssError, type VssErrorKind } from "../core/errors.js";

/**
 * The one place where the core's error kinds meet the wire: HTTP statuses and
 * ErrorResponse bodies of the binary form, and Connect codes of gRPC, gRPC-Web
 * and Connect (which carry the same ErrorResponse as an error detail).
 */
const BY_KIND: Record<VssErrorKind, { status: number; errorCode: ErrorCode; code: Code }> = {
  conflict: { status: 409, errorCode: ErrorCode.CONFLICT_EXCEPTION, code: Code.Aborted },
  invalid_request: {
    status: 400,
    errorCode: ErrorCode.INVALID_REQUEST_EXCEPTION,
    code: Code.InvalidArgument,
  },
  no_such_key: { status: 404, errorCode: ErrorCode.NO_SUCH_KEY_EXCEPTION, code: Code.NotFound },
  auth: { status: 401, errorCode: ErrorCode.AUTH_EXCEPTION, code: Code.Unauthenticated },
  internal: { status: 500, errorCode: ErrorCode.INTERNAL_SERVER_EXCEPTION, code: Code.Internal },
};

/** Any thrown value as a VssError; anything unexpected is an internal error. */
export function asVssError(error: unknown): VssError {
  return error instanceof VssError
    ? error
    : new VssError("internal", "internal server error", { cause: error });
}

/** The HTTP status of the binary form for `error`. */
export function httpStatusOf(error: VssError): number {
  return error.reason === "rate_limited" || error.reason === "overloaded"
    ? 429
    : BY_KIND[error.kind].status;
}

/** Response headers that go with `error`: Retry-After when a retry may succeed later. */
export function errorHeadersOf(error: VssError): Record<string, string> {
  return error.retryAfterSecs === undefined
    ? {}
    : { "retry-after": String(Math.max(1, Math.ceil(error.retryAfterSecs))) };
}

function connectCodeOf(error: VssError): Code {
  switch (error.reason) {
    case "unavailable":
      return Code.Unavailable;
    case "rate_limited":
    case "overloaded":
    case "quota_exceeded":
      return Code.ResourceExhausted;
    default:
      return BY_KIND[error.kind].code;
  }
}

/** The ErrorResponse clients decode from any failed call. */
export function errorResponseOf(error: VssError): ErrorResponse {
  return create(ErrorResponseSchema, {
    errorCode: BY_KIND[error.kind].errorCode,
    message: error.message,
  });
}

/** The serialized ErrorResponse for a failure of `kind` with `message`. */
export function errorBody(kind: VssErrorKind, message: string): Uint8Array {
  return toBinary(ErrorResponseSchema, errorResponseOf(new VssError(kind, message)));
}

/** `error` as a ConnectError with the VSS ErrorResponse attached as a detail. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const vss = asVssError(error);
  return new ConnectError(vss.message, connectCodeOf(vss), errorHeadersOf(vss), [
    { desc: ErrorResponseSchema, value: errorResponseOf(vss) },
  ]);
}
