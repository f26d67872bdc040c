/**
 * A thin typed client for the tenantbase HTTP API: openapi-fetch over the types that
 * openapi-typescript generates from the server's OpenAPI document (src/generated), plus
 * the permission catalog. Paths, path and query parameters, bodies and answers are all
 * checked by the compiler against the document; nothing here is written by hand but the
 * bearer-token middleware and the problem helper.
 */
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/openapi.js";

export type { components, operations, paths } from "./generated/openapi.js";
export { PERMISSIONS, type Permission, isPermission } from "./generated/permissions.js";

/** The schemas of the document by name, e.g. `Schemas["ProjectView"]`. */
export type Schemas = components["schemas"];

/** Every error answer: RFC 9457 problem+json with a stable `code` and the `request_id`. */
export type Problem = Schemas["Problem"];

/** A client of the API; call it as `api.GET("/v1/orgs/{org_id}/projects", { params })`. */
export type TenantbaseClient = Client<paths>;

export interface ClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:8080` (no trailing `/v1`). */
  baseUrl: string;
  /**
   * Returns the access token (or `tb_…` API key) to send as `Authorization: Bearer`, or
   * nothing to send none. Called per request, so a refreshed token is picked up.
   */
  token?: () => string | undefined;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof globalThis.fetch;
}

/** Creates a client for one server. */
export function createTenantbaseClient(options: ClientOptions): TenantbaseClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { token } = options;
  if (token) {
    client.use({
      onRequest({ request }) {
        const value = token();
        if (value) {
          request.headers.set("authorization", `Bearer ${value}`);
        }
        return request;
      },
    });
  }
  return client;
}

/** A failed call as an Error whose message carries the problem's status, code and title. */
export class ProblemError extends Error {
  constructor(
    readonly problem: Problem,
    readonly status: number,
  ) {
    super(`${status} ${problem.code}: ${problem.detail || problem.title}`);
    this.name = "ProblemError";
  }
}

/**
 * The data of a successful call, or a {@link ProblemError} thrown for a failed one: for
 * callers that treat every error answer alike, as `await expectData(api.GET(…))`.
 */
export async function expectData<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (data !== undefined) {
    return data;
  }
  // Every documented error answer is a Problem; anything else (a proxy's HTML page) is
  // still reported with its status rather than as a missing field.
  const problem = (typeof error === "object" && error !== null ? error : {}) as Partial<Problem>;
  throw new ProblemError(
    {
      type: problem.type ?? "about:blank",
      title: problem.title ?? response.statusText,
      status: response.status,
      detail: problem.detail ?? "",
      code: problem.code ?? "unexpected_response",
      request_id: problem.request_id ?? response.headers.get("x-request-id") ?? "",
    } as Problem,
    response.status,
  );
}
