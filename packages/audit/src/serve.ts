/**
 * `audit serve`: the report's views as a read-only page, live from the database, on `node:http`.
 * It binds 127.0.0.1 unless told otherwise and says so: put it behind your own authentication
 * before letting anyone else reach it. Only `GET` and `HEAD` of `/`; the window comes from
 * `?from=…&to=…` (dates or ISO times; default: the last 30 days).
 *
 * @since 0.1.0
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { EventStore, type EventStoreService, InvalidArgument, type TimeWindow } from "@idtrail/store"
import { Effect, type Scope } from "effect"
import { contentSecurityPolicy, renderReportHtml } from "./html.ts"
import { type ReportOptions, reportData } from "./report-data.ts"
import { parseTime } from "./window.ts"

/** Options of {@link serveAudit}. */
export interface ServeOptions extends ReportOptions {
  readonly port: number
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
}

/** A running page. */
export interface AuditServer {
  readonly url: string
  readonly host: string
  readonly port: number
}

const day = 86_400_000

/** The window a request asks for (default: the 30 days up to the end of today, UTC). */
export const windowOfQuery = (params: URLSearchParams, now = new Date()): TimeWindow | InvalidArgument => {
  const endOfToday = new Date(Math.ceil(now.getTime() / day) * day)
  const to = params.get("to") ? parseTime(params.get("to")!, "to") : endOfToday
  if (to instanceof InvalidArgument) return to
  const from = params.get("from") ? parseTime(params.get("from")!, "from") : new Date(to.getTime() - 30 * day)
  if (from instanceof InvalidArgument) return from
  if (from.getTime() > to.getTime())
    return new InvalidArgument({ argument: "from", message: "from is after to" })
  return { from, to }
}

const send = (res: ServerResponse, status: number, type: string, body: string, head: boolean) => {
  res.writeHead(status, {
    "content-type": `${type}; charset=utf-8`,
    "content-security-policy": contentSecurityPolicy,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  })
  res.end(head ? undefined : body)
}

const handler =
  (store: EventStoreService, options: ServeOptions, where: () => AuditServer) =>
  (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === "HEAD"
    if (req.method !== "GET" && !head) {
      res.setHeader("allow", "GET, HEAD")
      return send(res, 405, "text/plain", "read-only: GET or HEAD only\n", false)
    }
    const url = new URL(req.url ?? "/", "http://localhost")
    if (url.pathname !== "/") return send(res, 404, "text/plain", "not found: the audit page is at /\n", head)
    const window = windowOfQuery(url.searchParams)
    if (window instanceof InvalidArgument) return send(res, 400, "text/plain", `${window.message}\n`, head)
    const { host, port } = where()
    // ?account=…&livemode=true|false: one account's, one mode's sessions (checked by the store).
    // An empty account field means no filter, as an absent one does.
    const account = url.searchParams.get("account") || undefined
    const mode = url.searchParams.get("livemode")
    if (mode !== null && mode !== "true" && mode !== "false")
      return send(res, 400, "text/plain", "livemode must be true or false\n", head)
    const filter = { account, livemode: mode === null ? undefined : mode === "true" }
    Effect.runPromise(
      reportData(window, { ...options, filter }).pipe(
        Effect.map((data) => renderReportHtml(data, { live: { host, port } })),
        Effect.provideService(EventStore, store),
      ),
    ).then(
      (html) => send(res, 200, "text/html", html, head),
      (error: { readonly _tag?: string; readonly message?: string }) =>
        send(
          res,
          error._tag === "InvalidArgument" ? 400 : 503,
          "text/plain",
          `${error._tag ?? "Error"}: the report could not be read\n`,
          head,
        ),
    )
  }

/** Serves the audit page until the scope closes. */
export const serveAudit = Effect.fn("audit.serve")(function* (
  options: ServeOptions,
): Effect.fn.Return<AuditServer, InvalidArgument, EventStore | Scope.Scope> {
  const host = options.host ?? "127.0.0.1"
  if (!Number.isSafeInteger(options.port) || options.port < 0 || options.port > 65_535)
    return yield* new InvalidArgument({
      argument: "port",
      message: `port must be 0 to 65535, got ${options.port}`,
    })
  const store = yield* EventStore
  let address: AuditServer = { url: "", host, port: options.port }
  const server = createServer(handler(store, options, () => address))
  yield* Effect.acquireRelease(
    Effect.callback<void, InvalidArgument>((resume) => {
      server.once("error", (e) =>
        resume(
          Effect.fail(
            new InvalidArgument({
              argument: "port",
              message: `cannot listen on ${host}:${options.port}: ${e.message}`,
            }),
          ),
        ),
      )
      server.listen(options.port, host, () => resume(Effect.void))
    }),
    () =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      }),
  )
  const port = (server.address() as AddressInfo).port
  const shown = host.includes(":") ? `[${host}]` : host
  address = { url: `http://${shown}:${port}/`, host, port }
  return address
})
