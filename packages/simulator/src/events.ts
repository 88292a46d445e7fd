/**
 * The event log behind `GET /v1/events` and webhooks. Events are kept in creation order in typed
 * columns; an event caused through the API keeps its snapshot and request, while an event of a
 * generated history is re-rendered from its batch on demand.
 *
 * Stripe keeps events for 30 days; the log finds the oldest live event by binary search on
 * `created` against the simulator clock, so expired events vanish from list and retrieve alike.
 *
 * @module
 */

import { capacityFor, firstAtOrAfter, grown } from "./columns.ts"
import { invalidRequest } from "./errors.ts"
import { EVENT_TYPES, type EventType } from "./sessions.ts"

/** How long Stripe's Events API keeps an event. */
export const EVENT_RETENTION_SECONDS = 30 * 86_400

/** The `request` member of an event. */
export interface EventRequest {
  readonly id: string | null
  readonly idempotency_key: string | null
}

/** What an API-caused event keeps verbatim. */
export interface EventDetail {
  readonly snapshot: Record<string, unknown>
  readonly request: EventRequest
}

/** Marks an event whose snapshot is regenerated from a batch; the step is its history index. */
const GENERATED = 0xff

/** Creation-ordered storage of events. */
export class EventLog {
  #size = 0
  #created = new Float64Array(1024)
  #session = new Uint32Array(1024)
  #type = new Uint8Array(1024)
  #step = new Uint8Array(1024)
  #pending = new Uint8Array(1024)
  readonly #details = new Map<number, EventDetail>()

  /** Number of events ever created (expired ones included). */
  get size(): number {
    return this.#size
  }

  #ensure(capacity: number): void {
    if (capacity <= this.#created.length) return
    const n = capacityFor(this.#created.length, capacity)
    this.#created = grown(this.#created, n)
    this.#session = grown(this.#session, n)
    this.#type = grown(this.#type, n)
    this.#step = grown(this.#step, n)
    this.#pending = grown(this.#pending, n)
  }

  #push(created: number, session: number, type: EventType, step: number, pending: number): number {
    const i = this.#size
    // Events are appended in time order; a generated batch may lag the newest API event by a second.
    const last = i > 0 ? this.#created[i - 1]! : created
    this.#ensure(i + 1)
    this.#created[i] = Math.max(created, last)
    this.#session[i] = session
    this.#type[i] = EVENT_TYPES.indexOf(type)
    this.#step[i] = step
    this.#pending[i] = Math.min(255, pending)
    this.#size = i + 1
    return i
  }

  /** Records an API- or control-caused event with its snapshot; returns its index. */
  append(
    created: number,
    session: number,
    type: EventType,
    detail: EventDetail,
    pendingWebhooks: number,
  ): number {
    const i = this.#push(created, session, type, GENERATED - 1, pendingWebhooks)
    this.#details.set(i, detail)
    return i
  }

  /** Records step `step` of a generated session's history (already delivered: no webhooks). */
  appendGenerated(created: number, session: number, type: EventType, step: number): number {
    if (step >= GENERATED - 1) throw new Error("generated histories are short")
    return this.#push(created, session, type, step, 0)
  }

  /** Creation time (unix seconds) of event `i`. */
  created(i: number): number {
    return this.#created[i]!
  }
  /** Index of the session event `i` is about. */
  session(i: number): number {
    return this.#session[i]!
  }
  /** Type of event `i`. */
  type(i: number): EventType {
    return EVENT_TYPES[this.#type[i]!]!
  }
  /** Type of event `i` as an index into {@link EVENT_TYPES} (what type masks test). */
  typeCode(i: number): number {
    return this.#type[i]!
  }
  /** The stored detail of an API-caused event, or the history step of a generated one. */
  detail(i: number): EventDetail | { readonly step: number } {
    return this.#details.get(i) ?? { step: this.#step[i]! }
  }
  /** Endpoints that have not yet acknowledged event `i`. */
  pending(i: number): number {
    return this.#pending[i]!
  }
  /** One endpoint acknowledged event `i`. */
  acknowledge(i: number): void {
    if (this.#pending[i]! > 0) this.#pending[i] = this.#pending[i]! - 1
  }

  /** The first index whose creation time is ≥ `t`. */
  firstCreatedAtOrAfter(t: number): number {
    return firstAtOrAfter(this.#created, this.#size, t)
  }

  /** Index of the oldest event still inside the 30-day window at time `now`. */
  floor(now: number): number {
    return this.firstCreatedAtOrAfter(now - EVENT_RETENTION_SECONDS)
  }
}

/**
 * Turns a `type` filter with `*` wildcards (`identity.verification_session.*`, `*.verified`) into
 * a mask over the simulator's event types: `mask[code]` says whether that type matches.
 */
export const typeMask = (patterns: ReadonlyArray<string>): Uint8Array => {
  const mask = new Uint8Array(EVENT_TYPES.length)
  for (const pattern of patterns) {
    const re = new RegExp(
      `^${pattern
        .split("*")
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*")}$`,
    )
    EVENT_TYPES.forEach((t, code) => {
      if (re.test(t)) mask[code] = 1
    })
  }
  return mask
}

/** Validates the `type` / `types[]` pair of an events list request. */
export const readTypeFilter = (
  type: string | undefined,
  types: string[] | undefined,
): Uint8Array | undefined => {
  if (type !== undefined && types !== undefined)
    throw invalidRequest(
      "You may only specify one of these parameters: type, types.",
      "types",
      "parameters_exclusive",
    )
  if (types !== undefined) {
    if (types.length > 20) throw invalidRequest("Invalid array: types can have at most 20 items", "types")
    // `types[]` takes exact names only; a wildcard there matches nothing literally.
    return typeMask(types.map((t) => t.replaceAll("*", "\u0000")))
  }
  return type === undefined ? undefined : typeMask([type])
}
