// The control API of a running leash: a small table of routes that operators' commands (`leash lockdown`, and the
// commands built on it) call on the local control socket or, with --admin and LEASH_ADMIN_TOKEN, over TCP. A route
// is data plus one async handler that knows nothing about sockets or authentication: server.ts serves the same
// table on both transports and decides who may call what (a `mutating` route over TCP needs the bearer token).
//
// Handlers must never throw secrets into their error bodies; a handler that throws is answered 500 internal_error
// with a generic message (server.ts), and nothing it was asked to do is assumed done.

export type ControlMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ControlRequest {
  /** The JSON body, parsed (undefined when there was none). Validate it: it comes from outside. */
  readonly body: unknown;
  /**
   * Who asked, for the audit log: on the control socket the OS user the client runs as (`alice (uid 1000)`), over
   * TCP `admin-token`.
   */
  readonly caller: string;
  /** `:name` segments of the route's path, e.g. `{ id: '42' }` for `/v1/approvals/:id`. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
}

export interface ControlResponse {
  readonly status: number;
  /** Serialised as JSON. */
  readonly body: unknown;
}

export interface ControlRoute {
  readonly method: ControlMethod;
  /** `/v1/...`; a segment `:name` matches any one segment and is handed to the handler in `params`. */
  readonly path: string;
  /** Changes leash's state: over TCP it needs `Authorization: Bearer $LEASH_ADMIN_TOKEN`. */
  readonly mutating: boolean;
  /** One line for `GET /v1` (what the API offers). */
  readonly summary: string;
  handle(req: ControlRequest): Promise<ControlResponse>;
}

/** Every error the control API answers with: a stable code, the HTTP status, and what it means. */
export const CONTROL_ERRORS = {
  bad_request: { status: 400, text: 'the body is not JSON of the expected shape, or a value is invalid' },
  unauthorized: {
    status: 401,
    text: 'over TCP, every call needs Authorization: Bearer with the token in LEASH_ADMIN_TOKEN',
  },
  tcp_control_off: {
    status: 403,
    text: 'the control API over --admin is off because LEASH_ADMIN_TOKEN is not set; use the control socket',
  },
  not_found: { status: 404, text: 'no such route (GET /v1 lists them), or no such object' },
  method_not_allowed: { status: 405, text: 'the route exists with another method' },
  unsupported_media_type: { status: 415, text: 'a body must be Content-Type: application/json' },
  too_large: { status: 413, text: 'the body exceeds 64 KiB' },
  internal_error: { status: 500, text: 'leash failed while handling the call; nothing is assumed done' },
  unavailable: { status: 503, text: 'what the call needs (the shared store) did not answer; nothing was changed' },
} as const;

export type ControlErrorCode = keyof typeof CONTROL_ERRORS;

export function controlError(code: ControlErrorCode, message: string): ControlResponse {
  return { status: CONTROL_ERRORS[code].status, body: { error: { code, message } } };
}

export function ok(body: unknown): ControlResponse {
  return { status: 200, body };
}

/** The route `method path` names, with its params; or why none does (404, or 405 when only the method differs). */
export function matchRoute(
  routes: readonly ControlRoute[],
  method: string,
  path: string,
): { route: ControlRoute; params: Record<string, string> } | { error: 'not_found' | 'method_not_allowed' } {
  const segments = path.split('/');
  let pathMatched = false;
  for (const route of routes) {
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((part, i) => {
      const segment = segments[i] as string;
      if (part.startsWith(':')) {
        if (segment === '') return false;
        try {
          params[part.slice(1)] = decodeURIComponent(segment);
        } catch {
          return false;
        }
        return true;
      }
      return part === segment;
    });
    if (!matches) continue;
    if (route.method === method) return { route, params };
    pathMatched = true;
  }
  return { error: pathMatched ? 'method_not_allowed' : 'not_found' };
}

/**
 * `GET /v1`: what this leash's control API offers (also how a client learns that leash listens there). `about`
 * says which leash it is (its pid, its policy revision).
 */
export function indexRoute(routes: () => readonly ControlRoute[], about: () => Record<string, unknown>): ControlRoute {
  return {
    method: 'GET',
    path: '/v1',
    mutating: false,
    summary: 'what this control API offers',
    handle: async () =>
      ok({
        leash: about(),
        routes: routes().map((r) => ({ method: r.method, path: r.path, mutating: r.mutating, summary: r.summary })),
      }),
  };
}
