import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { VssService } from "../../gen/vss/vss_pb.js";
import type { Admission } from "../core/admission.js";
import type { Authorizer } from "../core/authorizer.js";
import type { VssService as Service } from "../core/service.js";
import { clientAddressKey } from "./client-address.js";
import { toConnectError } from "./error-mapping.js";
import type { Observability } from "./observability.js";

/** Dependencies of {@link createConnectRoutes}. */
export interface ConnectRoutesOptions {
  readonly service: Service;
  readonly authorizer: Authorizer;
  readonly admission: Admission;
  readonly observability: Observability;
}

/**
 * `vss.VssService` for gRPC, gRPC-Web and Connect: authenticate from the
 * request headers, admit the caller, call the shared service, map its errors
 * to Connect codes.
 */
export function createConnectRoutes({
  service,
  authorizer,
  admission,
  observability,
}: ConnectRoutesOptions) {
  const call =
    <Req, Res>(method: (userToken: string, request: Req) => Promise<Res>) =>
    async (request: Req, context: HandlerContext): Promise<Res> => {
      const startedAt = performance.now();
      const requestId = observability.requestId(context.requestHeader.get("x-request-id"));
      context.responseHeader.set("x-request-id", requestId);
      let identity: string | undefined;
      let failure: unknown;
      try {
        identity = await admission.authenticate(
          authorizer,
          context.requestHeader,
          context.values.get(clientAddressKey),
        );
        const release = await admission.admit(identity);
        try {
          return await method(identity, request);
        } finally {
          release();
        }
      } catch (error) {
        failure = error;
        throw toConnectError(error);
      } finally {
        observability.record({
          requestId,
          method: context.method.name,
          protocol: context.protocolName.replace("-", "_"),
          identity,
          startedAt,
          ...(failure === undefined ? {} : { error: failure }),
        });
      }
    };
  return (router: ConnectRouter) =>
    router.service(VssService, {
      getObject: call(service.getObject),
      putObjects: call(service.putObjects),
      deleteObject: call(service.deleteObject),
      listKeyVersions: call(service.listKeyVersions),
    });
}
