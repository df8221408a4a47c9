import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { VssService } from "../../gen/vss/vss_pb.js";
import type { Admission } from "../core/admission.js";
import type { Authorizer } from "../core/authorizer.js";
import type { VssService as Service } from "../core/service.js";
import { toConnectError } from "./error-mapping.js";

/** Dependencies of {@link createConnectRoutes}. */
export interface ConnectRoutesOptions {
  readonly service: Service;
  readonly authorizer: Authorizer;
  readonly admission: Admission;
}

/**
 * `vss.VssService` for gRPC, gRPC-Web and Connect: authenticate from the
 * request headers, admit the caller, call the shared service, map its errors
 * to Connect codes.
 */
export function createConnectRoutes({ service, authorizer, admission }: ConnectRoutesOptions) {
  const call =
    <Req, Res>(method: (userToken: string, request: Req) => Promise<Res>) =>
    async (request: Req, context: HandlerContext): Promise<Res> => {
      try {
        const userToken = await authorizer.authorize(context.requestHeader);
        const release = await admission.admit(userToken);
        try {
          return await method(userToken, request);
        } finally {
          release();
        }
      } catch (error) {
        throw toConnectError(error);
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
