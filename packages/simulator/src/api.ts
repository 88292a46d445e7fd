/**
 * Stripe's routes: `/v1/identity/verification_sessions…`, `/v1/events…` and the read side of
 * Connect's `/v1/accounts…`. Each route runs on the account the request acts as (the
 * `Stripe-Account` header; server.ts resolves it). Each route declares
 * its parameters (params.ts) and runs in two phases — validate, then execute — because Stripe
 * saves an idempotent response only once execution has started (fact sheet §6.5).
 *
 * @module
 */
import { ApiError, invalidRequest, missingParameter } from "./errors.ts"
import type { FormHash } from "./form.ts"
import { type ParamSpec, p, type Range, readParams } from "./params.ts"
import { readExpansions } from "./render.ts"
import type { DocumentOptions, SessionRecord, Status } from "./sessions.ts"
import type { Simulator } from "./simulator.ts"

/** Who is calling, for event `request` fields. */
export interface CallContext {
  readonly requestId: string
  readonly idempotencyKey: string | null
}

/** A successful response. */
export interface ApiResponse {
  readonly status: number
  readonly body: unknown
}

/** A validated request, ready to execute. */
export type Execute = () => ApiResponse

/** Finds the route for a request and validates its parameters; returns the execution step. */
export type Route = (sim: Simulator, params: FormHash, call: CallContext, id: string | undefined) => Execute

const documentOptions = p.hash(
  {
    allowed_types: p.array(p.enum("driving_license", "id_card", "passport")),
    require_id_number: p.bool,
    require_live_capture: p.bool,
    require_matching_selfie: p.bool,
  },
  { emptyable: true },
)
const options = p.hash({ document: documentOptions }, { emptyable: true })
const providedDetails = p.hash({ email: p.string(), phone: p.string() }, { emptyable: true })
const listParams: Record<string, ParamSpec> = {
  created: p.range,
  ending_before: p.string(),
  starting_after: p.string(),
  limit: p.int(1, 100),
  expand: p.expand,
}

const CREATE: Record<string, ParamSpec> = {
  type: p.enum("document", "id_number"),
  verification_flow: p.string(),
  client_reference_id: p.string(),
  metadata: p.metadata,
  options,
  provided_details: providedDetails,
  related_customer: p.string(),
  related_customer_account: p.string(),
  related_person: p.hash({ account: p.string(), person: p.string() }, { required: ["account", "person"] }),
  return_url: p.string(),
  expand: p.expand,
}
const UPDATE: Record<string, ParamSpec> = {
  metadata: p.metadata,
  options,
  provided_details: providedDetails,
  type: p.enum("document", "id_number"),
  expand: p.expand,
}
const EXPAND_ONLY: Record<string, ParamSpec> = { expand: p.expand }
const LIST_SESSIONS: Record<string, ParamSpec> = {
  ...listParams,
  status: p.enum("canceled", "processing", "requires_input", "verified"),
  client_reference_id: p.string(),
  related_customer: p.string(),
  related_customer_account: p.string(),
}
const LIST_EVENTS: Record<string, ParamSpec> = {
  ...listParams,
  type: p.string(),
  types: p.array(p.string(), 20),
  delivery_success: p.bool,
}

type Values = Record<string, unknown>
const str = (v: Values, k: string): string | undefined => v[k] as string | undefined
const expandOf = (v: Values): string[] | undefined => v.expand as string[] | undefined

/** `options` as given, where `null` (sent as "") clears. */
const applyOptions = (record: SessionRecord, given: unknown): void => {
  if (given === undefined) return
  if (given === null) {
    record.options = {}
    return
  }
  const doc = (given as { document?: DocumentOptions | null }).document
  if (doc === undefined) return
  record.options = doc === null ? {} : { ...record.options, document: { ...doc } }
}

const applyProvidedDetails = (record: SessionRecord, given: unknown): void => {
  if (given === undefined) return
  if (given === null) {
    record.provided_details = null
    return
  }
  const g = given as { email?: string; phone?: string }
  const next: { email?: string; phone?: string } = { ...(record.provided_details ?? {}) }
  // An empty string unsets one key, as elsewhere in Stripe's API.
  for (const k of ["email", "phone"] as const) {
    if (g[k] === undefined) continue
    if (g[k] === "") delete next[k]
    else next[k] = g[k]
  }
  record.provided_details = next
}

/** Metadata merges on update: `metadata[k]=` unsets k, `metadata=` clears all. */
const applyMetadata = (record: SessionRecord, given: unknown): void => {
  if (given === undefined) return
  if (given === null) {
    record.metadata = {}
    return
  }
  // A Map, not assignment: a key named `__proto__` is a key like any other.
  const next = new Map(Object.entries(record.metadata))
  for (const [k, v] of Object.entries(given as Record<string, string>)) {
    if (v === "") next.delete(k)
    else next.set(k, v)
  }
  if (next.size > 50) throw invalidRequest("Metadata can have at most 50 keys.", "metadata")
  record.metadata = Object.fromEntries(next)
}

const createSession: Route = (sim, form, call) => {
  const v = readParams(CREATE, form)
  const expand = readExpansions(expandOf(v))
  const flow = str(v, "verification_flow")
  const type = str(v, "type") as "document" | "id_number" | undefined
  if (flow === undefined && type === undefined) throw missingParameter("type")
  if (flow !== undefined && type !== undefined)
    throw invalidRequest(
      "You may only specify one of these parameters: type, verification_flow.",
      "type",
      "parameters_exclusive",
    )
  return () => {
    const i = sim.createSession(
      (r) => {
        r.client_reference_id = str(v, "client_reference_id") ?? null
        applyMetadata(r, v.metadata)
        applyOptions(r, v.options)
        applyProvidedDetails(r, v.provided_details)
        r.related_customer = str(v, "related_customer") ?? null
        r.related_customer_account = str(v, "related_customer_account") ?? null
        r.related_person = (v.related_person as SessionRecord["related_person"]) ?? null
        r.return_url = str(v, "return_url") ?? null
        r.verification_flow = flow ?? null
      },
      flow !== undefined ? "verification_flow" : type!,
      { id: call.requestId, idempotency_key: call.idempotencyKey },
    )
    return { status: 200, body: sim.renderSession(i, expand) }
  }
}

const retrieveSession: Route = (sim, form, _call, id) => {
  const v = readParams(EXPAND_ONLY, form)
  const expand = readExpansions(expandOf(v))
  return () => ({ status: 200, body: sim.renderSession(sim.findSession(id!), expand) })
}

const updateSession: Route = (sim, form, call, id) => {
  const v = readParams(UPDATE, form)
  const expand = readExpansions(expandOf(v))
  return () => {
    const i = sim.findSession(id!)
    sim.act(
      i,
      {
        kind: "update",
        apply: (r) => {
          applyMetadata(r, v.metadata)
          applyOptions(r, v.options)
          applyProvidedDetails(r, v.provided_details)
          if (v.type !== undefined) r.type = v.type as "document" | "id_number"
        },
      },
      { id: call.requestId, idempotency_key: call.idempotencyKey },
    )
    return { status: 200, body: sim.renderSession(i, expand) }
  }
}

const sessionAction =
  (kind: "cancel" | "redact"): Route =>
  (sim, form, call, id) => {
    const v = readParams(EXPAND_ONLY, form)
    const expand = readExpansions(expandOf(v))
    return () => {
      const i = sim.findSession(id!)
      sim.act(i, { kind }, { id: call.requestId, idempotency_key: call.idempotencyKey })
      return { status: 200, body: sim.renderSession(i, expand) }
    }
  }

const listSessions: Route = (sim, form) => {
  const v = readParams(LIST_SESSIONS, form)
  readExpansions(expandOf(v), "data.")
  return () => ({
    status: 200,
    body: sim.listSessions({
      ...listArgs(v),
      ...(v.status === undefined ? {} : { status: v.status as Status }),
      ...pick(v, "client_reference_id", "related_customer", "related_customer_account"),
      ...(v.expand === undefined ? {} : { expand: v.expand as string[] }),
    }),
  })
}

const noExpansion = (v: Values): void => {
  const expand = expandOf(v) ?? []
  if (expand.length > 0) throw invalidRequest(`This property cannot be expanded (${expand[0]}).`, "expand[0]")
}

const listEvents: Route = (sim, form) => {
  const v = readParams(LIST_EVENTS, form)
  noExpansion(v)
  return () => ({
    status: 200,
    body: sim.listEvents({
      ...listArgs(v),
      ...pick(v, "type"),
      ...(v.types === undefined ? {} : { types: v.types as string[] }),
      ...(v.delivery_success === undefined ? {} : { delivery_success: v.delivery_success as boolean }),
    }),
  })
}

const LIST_ACCOUNTS: Record<string, ParamSpec> = {
  created: p.range,
  ending_before: p.string(),
  starting_after: p.string(),
  limit: p.int(1, 100),
  expand: p.expand,
}

const listAccounts: Route = (sim, form) => {
  const v = readParams(LIST_ACCOUNTS, form)
  noExpansion(v)
  return () => ({ status: 200, body: sim.listAccounts(listArgs(v)) })
}

/** `GET /v1/accounts/:id`, and `GET /v1/account` (no id: the account the request acts as). */
const retrieveAccount: Route = (sim, form, _call, id) => {
  noExpansion(readParams(EXPAND_ONLY, form))
  return () => ({ status: 200, body: (id === undefined ? sim : sim.findAccount(id)).renderAccount() })
}

const retrieveEvent: Route = (sim, form, _call, id) => {
  noExpansion(readParams(EXPAND_ONLY, form))
  return () => ({ status: 200, body: sim.renderEvent(sim.findEvent(id!)) })
}

const pick = (v: Values, ...keys: string[]): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const k of keys) if (v[k] !== undefined) out[k] = v[k] as string
  return out
}

const listArgs = (v: Values) => ({
  ...(v.limit === undefined ? {} : { limit: v.limit as number }),
  ...pick(v, "starting_after", "ending_before"),
  ...(v.created === undefined ? {} : { created: v.created as Range }),
})

/**
 * Resolves `method path` to a route and the id in the path. Undefined for paths Stripe would not
 * recognise.
 */
export const resolveRoute = (
  method: string,
  path: string,
): { route: Route; id: string | undefined } | undefined => {
  const parts = path.replace(/\/+$/, "").split("/")
  if (parts[1] === "v1" && parts[2] === "identity" && parts[3] === "verification_sessions") {
    const rest = parts.slice(4)
    if (rest.length === 0) {
      if (method === "POST") return { route: createSession, id: undefined }
      if (method === "GET") return { route: listSessions, id: undefined }
    } else if (rest.length === 1 && rest[0] !== "") {
      const id = decodeURIComponent(rest[0]!)
      if (method === "GET") return { route: retrieveSession, id }
      if (method === "POST") return { route: updateSession, id }
    } else if (rest.length === 2 && method === "POST" && (rest[1] === "cancel" || rest[1] === "redact")) {
      return { route: sessionAction(rest[1]), id: decodeURIComponent(rest[0]!) }
    }
    return undefined
  }
  if (parts[1] === "v1" && parts[2] === "accounts" && method === "GET") {
    if (parts.length === 3) return { route: listAccounts, id: undefined }
    if (parts.length === 4 && parts[3] !== "")
      return { route: retrieveAccount, id: decodeURIComponent(parts[3]!) }
  }
  if (parts[1] === "v1" && parts[2] === "account" && parts.length === 3 && method === "GET")
    return { route: retrieveAccount, id: undefined }
  if (parts[1] === "v1" && parts[2] === "events" && method === "GET") {
    if (parts.length === 3) return { route: listEvents, id: undefined }
    if (parts.length === 4 && parts[3] !== "")
      return { route: retrieveEvent, id: decodeURIComponent(parts[3]!) }
  }
  return undefined
}

/** Stripe's 404 for an unknown URL. */
export const unrecognizedUrl = (method: string, path: string): ApiError =>
  new ApiError(
    404,
    "invalid_request_error",
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  )
