/**
 * The simulated Stripe account: sessions, events, webhooks and the clock, and every operation
 * on them. The HTTP layers (api.ts for Stripe's routes, control.ts for ours) only translate
 * requests into calls on a {@link Simulator}.
 *
 * A simulator is the platform account; its Connect (connected) accounts are child simulators
 * with their own sessions, events and ids, sharing the platform's clock and webhook dispatcher.
 *
 * @module
 */
import { type Clock, makeClock } from "./clock.ts"
import { accountInvalid, invalidRequest, resourceMissing } from "./errors.ts"
import { EventLog, type EventRequest, readTypeFilter } from "./events.ts"
import {
  type Batch,
  emptyRecord,
  generateHistory,
  makeVerifiedOutputs,
  REPORTS_PER_SESSION,
} from "./generate.ts"
import { type IdCodec, idTag, MAX_TAGGED, makeIdCodec } from "./ids.ts"
import { page } from "./list.ts"
import type { Range } from "./params.ts"
import { hash32, hashString, makeRandom, type Random, randomToken } from "./random.ts"
import { type Expansions, type RenderContext, readExpansions, renderSession } from "./render.ts"
import {
  ALLOWED_FROM,
  EVENT_TYPES,
  type EventType,
  LAST_ERROR_REASONS,
  type SessionAction,
  type SessionRecord,
  type SessionState,
  STATUSES,
  type Status,
  transition,
  type VerifiedOutputs,
} from "./sessions.ts"
import { SessionTable } from "./table.ts"
import { type EventSource, emptyWebhookStats, WebhookDispatcher, type WebhookStats } from "./webhooks.ts"

/** The action names a forbidden-action error can be about. */
export type ApiAction = "update" | "cancel" | "redact"

/** How the simulator words a forbidden action. Stripe's exact text is not known (fact sheet §2.4). */
export interface ForbiddenActionOptions {
  /** The error `code`; unset by default, because no source shows what Stripe sends. */
  readonly code?: string
  /** Builds the message. */
  readonly message?: (info: { action: ApiAction; id: string; status: Status; reason: string }) => string
}

/** Options for a {@link Simulator}. */
export interface SimulatorCoreOptions {
  /** Seeds ids, generated data and faults. Default 1. */
  readonly seed?: number
  /** Unix seconds the simulator clock starts at. Default: now. */
  readonly startTime?: number
  /** Freeze the clock so it moves only when advanced. Default false. */
  readonly frozenClock?: boolean
  /** `api_version` stamped on events. */
  readonly apiVersion?: string
  readonly forbiddenAction?: ForbiddenActionOptions
}

/** The API version the simulator speaks (stripe@22's pinned version). */
export const API_VERSION = "2026-07-29.dahlia"

const PAST: Record<ApiAction, string> = { update: "updated", cancel: "canceled", redact: "redacted" }

const defaultForbiddenMessage = (info: {
  action: ApiAction
  id: string
  status: Status
  reason: string
}): string =>
  `This VerificationSession (${info.id}) cannot be ${PAST[info.action]} because ${info.reason}. ` +
  `Only a VerificationSession with status ${ALLOWED_FROM[info.action].join(" or ")} can be ${PAST[info.action]}.`

/** The list object Stripe returns. */
export interface ListObject {
  readonly object: "list"
  readonly data: Array<Record<string, unknown>>
  readonly has_more: boolean
  readonly url: string
}

/** Paging parameters shared by both lists. */
export interface ListParams {
  readonly limit?: number
  readonly starting_after?: string
  readonly ending_before?: string
  readonly created?: Range
}

/** A connected account's id: `acct_` and letters or digits, as Stripe mints them. */
export const ACCOUNT_ID = /^acct_[A-Za-z0-9]{1,100}$/

/** How a connected account's simulator is made (by {@link Simulator.addConnectedAccount}). */
export interface ConnectedInit {
  readonly platform: Simulator
  readonly id: string
  /** The account's position among the platform's connected accounts, from 1; its ids carry it. */
  readonly tag: number
}

/** Who caused a change: an API request, or nobody (the end user, Stripe's checks, time). */
const AUTOMATIC: EventRequest = { id: null, idempotency_key: null }

/** The simulated account: the platform, or (made by the platform) one of its connected accounts. */
export class Simulator {
  readonly clock: Clock
  /** Seeds this account's ids and data; a connected account's is derived from the platform's and its id. */
  readonly seed: number
  readonly apiVersion: string
  /** This account's id: minted from the seed for the platform, given or minted for a connected one. */
  readonly accountId: string
  /** The platform this is a connected account of; undefined for the platform itself. */
  readonly platform: Simulator | undefined
  /** When the account was created (unix seconds). */
  readonly created: number
  /** A connected account's position among the platform's, from 1 (its ids carry it); 0 for the platform. */
  readonly tag: number
  readonly sessions = new SessionTable()
  readonly events = new EventLog()
  readonly sessionIds: IdCodec
  readonly eventIds: IdCodec
  readonly reportIds: IdCodec
  /** Shared by the platform and all its connected accounts. */
  readonly webhooks: WebhookDispatcher
  /** Webhook counters for this account's events only. */
  readonly webhookStats: WebhookStats = emptyWebhookStats()
  readonly #source: EventSource
  readonly #forbidden: ForbiddenActionOptions
  readonly #random: Random
  /** Connected accounts in creation order, and by id (the platform only). */
  readonly #connected: Simulator[] = []
  readonly #connectedById = new Map<string, Simulator>()
  readonly #accountIds: Random
  #reports = 0
  #batches = 0

  constructor(options: SimulatorCoreOptions = {}, connected?: ConnectedInit) {
    const platform = connected?.platform
    this.platform = platform
    this.seed = platform ? hash32(platform.seed, hashString(connected.id)) : (options.seed ?? 1) >>> 0
    this.clock =
      platform?.clock ??
      makeClock({
        ...(options.startTime === undefined ? {} : { startTime: options.startTime }),
        frozen: options.frozenClock ?? false,
      })
    this.apiVersion = platform?.apiVersion ?? options.apiVersion ?? API_VERSION
    this.#forbidden = platform !== undefined ? platform.#forbidden : (options.forbiddenAction ?? {})
    this.#random = makeRandom(hash32(this.seed, 0xa11ce))
    this.#accountIds = makeRandom(hash32(this.seed, 0xacc7))
    this.accountId = connected?.id ?? `acct_1${randomToken(this.#accountIds, 15)}`
    this.created = this.clock.nowSeconds()
    this.tag = connected?.tag ?? 0
    this.sessionIds = makeIdCodec("vs_", this.seed, connected?.tag)
    this.eventIds = makeIdCodec("evt_", this.seed, connected?.tag)
    this.reportIds = makeIdCodec("vr_", this.seed, connected?.tag)
    this.webhooks = platform?.webhooks ?? new WebhookDispatcher({ clock: this.clock, seed: this.seed })
    this.#source = {
      connect: platform !== undefined,
      render: (i) => JSON.stringify(this.renderEvent(i)),
      type: (i) => this.events.type(i),
      acknowledge: (i) => this.events.acknowledge(i),
      stats: this.webhookStats,
    }
  }

  // ---- accounts ------------------------------------------------------------------------------

  /**
   * Adds a connected account (the platform only); its id is minted from the seed unless given.
   * A malformed or taken id is a 400.
   */
  addConnectedAccount(id?: string): Simulator {
    if (this.platform !== undefined)
      throw invalidRequest("Only the platform account can have connected accounts.", "account")
    if (this.#connected.length >= MAX_TAGGED)
      throw invalidRequest(`A platform holds at most ${MAX_TAGGED} connected accounts here.`, "id")
    if (id !== undefined && !ACCOUNT_ID.test(id))
      throw invalidRequest(`Invalid account id: '${id}' (expected acct_ and letters or digits).`, "id")
    let accountId = id
    while (accountId === undefined || accountId === this.accountId || this.#connectedById.has(accountId)) {
      if (id !== undefined) throw invalidRequest(`The account '${id}' already exists.`, "id")
      accountId = `acct_1${randomToken(this.#accountIds, 15)}`
    }
    const account = new Simulator({}, { platform: this, id: accountId, tag: this.#connected.length + 1 })
    this.#connected.push(account)
    this.#connectedById.set(accountId, account)
    return account
  }

  /** The connected accounts, in creation order (none for a connected account). */
  connectedAccounts(): ReadonlyArray<Simulator> {
    return this.#connected
  }

  /**
   * The account a request acts as: this platform without a `Stripe-Account` header (or with its
   * own id), else that connected account. Anything else is Stripe's 403 `account_invalid`.
   */
  actingAs(header: string | undefined, apiKey: string): Simulator {
    if (header === undefined || header === this.accountId) return this
    const account = this.#connectedById.get(header)
    if (account === undefined) throw accountInvalid(apiKey, header)
    return account
  }

  /** The connected account `id` names, or a control-API 404 (`param` names the input). */
  requireConnectedAccount(id: string, param = "account"): Simulator {
    const account = this.#connectedById.get(id)
    if (account === undefined) throw resourceMissing("account", id, param)
    return account
  }

  /** Stripe's `account` object for this account (minimal, with the fields the SDK requires). */
  renderAccount(): Record<string, unknown> {
    return {
      id: this.accountId,
      object: "account",
      business_profile: null,
      charges_enabled: true,
      country: "US",
      created: this.created,
      default_currency: "usd",
      details_submitted: true,
      email: null,
      metadata: {},
      payouts_enabled: true,
      type: "standard",
    }
  }

  /** Account `id` as this account sees it: itself, or one of its connected accounts; else a 404. */
  findAccount(id: string, param = "id"): Simulator {
    return id === this.accountId ? this : this.requireConnectedAccount(id, param)
  }

  /** Lists the connected accounts, newest first (a connected account has none). */
  listAccounts(params: ListParams): ListObject {
    const all = this.#connected
    const index = (id: string, param: string): number => {
      const a = this.#connectedById.get(id)
      if (a === undefined) throw resourceMissing("account", id, param)
      return a.tag - 1
    }
    const result = page({
      size: all.length,
      firstAtOrAfter: (t) => {
        let lo = 0
        let hi = all.length
        while (lo < hi) {
          const mid = (lo + hi) >> 1
          if (all[mid]!.created < t) lo = mid + 1
          else hi = mid
        }
        return lo
      },
      created: params.created,
      ...this.#cursors(params, index),
      limit: params.limit ?? 10,
    })
    return {
      object: "list",
      data: result.indices.map((i) => all[i]!.renderAccount()),
      has_more: result.hasMore,
      url: "/v1/accounts",
    }
  }

  /** The account (this platform or a connected one) whose session `id` is, or a 404. */
  locateSession(id: string): { account: Simulator; index: number } {
    const tagged = this.#connected[idTag("vs_", id) - 1]
    for (const account of tagged === undefined ? [this] : [this, tagged]) {
      const i = account.sessionIds.decode(id)
      if (i !== undefined && i < account.sessions.size) return { account, index: i }
    }
    throw resourceMissing("verification_session", id)
  }

  /** Rendering context at the current time. */
  context(now = this.clock.nowSeconds()): RenderContext {
    return { now, idSeed: this.seed, reportId: (i) => this.reportIds.encode(i) }
  }

  // ---- sessions ------------------------------------------------------------------------------

  /** The index of session `id`, or a 404 naming `param`. */
  findSession(id: string, param = "id"): number {
    const i = this.sessionIds.decode(id)
    if (i === undefined || i >= this.sessions.size) throw resourceMissing("verification_session", id, param)
    return i
  }

  /** Renders session `i`. */
  renderSession(i: number, expand: Expansions = new Set()): Record<string, unknown> {
    return renderSession(
      this.sessionIds.encode(i),
      i,
      this.sessions.created(i),
      this.sessions.state(i),
      expand,
      this.context(),
    )
  }

  /** Creates a session (status `requires_input`) and emits `identity.verification_session.created`. */
  createSession(
    fill: (record: SessionRecord) => void,
    type: SessionRecord["type"],
    request: EventRequest = AUTOMATIC,
  ): number {
    const record = emptyRecord(type)
    fill(record)
    const state: SessionState = { status: "requires_input", redaction: null, record }
    const i = this.sessions.append(this.clock.nowSeconds(), state)
    this.#emit(i, ["identity.verification_session.created"], request)
    return i
  }

  /** Applies an action; forbidden ones fail with a 400 `invalid_request_error`. */
  act(i: number, action: SessionAction, request: EventRequest = AUTOMATIC): SessionState {
    const state = this.sessions.state(i)
    const t = transition(state, action)
    if (!t.ok) {
      const id = this.sessionIds.encode(i)
      if (action.kind === "update" || action.kind === "cancel" || action.kind === "redact") {
        const info = { action: action.kind, id, status: state.status, reason: t.reason }
        const message = (this.#forbidden.message ?? defaultForbiddenMessage)(info)
        throw invalidRequest(message, undefined, this.#forbidden.code)
      }
      throw invalidRequest(`Cannot ${action.kind.replace("_", " ")} VerificationSession ${id}: ${t.reason}.`)
    }
    this.sessions.set(i, t.state)
    this.#emit(i, t.events, request)
    return t.state
  }

  #emit(i: number, types: ReadonlyArray<EventType>, request: EventRequest): void {
    if (types.length === 0) return
    const now = this.clock.nowSeconds()
    const snapshot = this.renderSession(i)
    const connect = this.#source.connect
    for (const type of types) {
      const e = this.events.append(
        now,
        i,
        type,
        { snapshot, request },
        this.webhooks.subscribers(type, connect),
      )
      this.webhooks.enqueue(this.#source, e)
    }
  }

  /** The end user submits: `requires_input` → `processing`. */
  submit(id: string): SessionState {
    return this.act(this.findSession(id), { kind: "submit" })
  }

  /** Every check passes: `processing` → `verified`, with verified outputs and a new report. */
  pass(id: string, outputs?: Partial<VerifiedOutputs>): SessionState {
    const i = this.findSession(id)
    for (const key of Object.keys(outputs ?? {}))
      if (!VERIFIED_OUTPUT_KEYS.includes(key))
        throw invalidRequest(`Unknown verified output: ${key}`, `outputs[${key}]`)
    const record = this.sessions.state(i).record
    const generated = makeVerifiedOutputs(this.#random, record)
    return this.act(i, {
      kind: "pass",
      outputs: { ...generated, ...outputs },
      report: this.#nextReport(),
      now: this.clock.nowSeconds(),
    })
  }

  /** A check fails: `processing` → `requires_input`, with `last_error` and a new report. */
  fail(id: string, code = "document_unverified_other", reason?: string): SessionState {
    const i = this.findSession(id)
    if (!/^[a-z0-9_]{1,100}$/.test(code)) throw invalidRequest(`Invalid last_error code: ${code}`, "code")
    return this.act(i, {
      kind: "fail",
      code,
      reason: reason ?? LAST_ERROR_REASONS[code] ?? "The verification check failed.",
      report: this.#nextReport(),
      now: this.clock.nowSeconds(),
    })
  }

  /** Finishes a redaction: `redaction.status` `processing` → `redacted`, emitting `…redacted`. */
  finishRedaction(id: string): SessionState {
    return this.act(this.findSession(id), { kind: "finish_redaction" })
  }

  #nextReport(): number {
    // Report indices live above every generated batch's reserved range.
    return API_REPORTS + this.#reports++
  }

  /** Lists sessions, newest first. */
  listSessions(
    params: ListParams & {
      status?: Status
      client_reference_id?: string
      related_customer?: string
      related_customer_account?: string
      expand?: string[]
    },
  ): ListObject {
    const expand = readExpansions(params.expand, "data.")
    const t = this.sessions
    const filters: Array<(i: number) => boolean> = []
    let empty = false
    if (params.status !== undefined) {
      const code = STATUSES.indexOf(params.status)
      filters.push((i) => t.statusCode(i) === code)
    }
    if (params.client_reference_id !== undefined) {
      const code = t.lookupCode(params.client_reference_id)
      if (code === undefined) empty = true
      else filters.push((i) => t.referenceCode(i) === code)
    }
    if (params.related_customer !== undefined) {
      const code = t.lookupCode(params.related_customer)
      if (code === undefined) empty = true
      else filters.push((i) => t.customerCode(i) === code)
    }
    if (params.related_customer_account !== undefined) {
      // Rare in practice, so it reads the record rather than keeping a column.
      const want = params.related_customer_account
      filters.push((i) => t.state(i).record.related_customer_account === want)
    }
    const cursors = this.#cursors(params, (id, param) => this.findSession(id, param))
    const result = empty
      ? { indices: [], hasMore: false }
      : page({
          size: t.size,
          firstAtOrAfter: (x) => t.firstCreatedAtOrAfter(x),
          created: params.created,
          ...cursors,
          limit: params.limit ?? 10,
          matches: filters.length === 0 ? undefined : (i) => filters.every((f) => f(i)),
        })
    return {
      object: "list",
      data: result.indices.map((i) => this.renderSession(i, expand)),
      has_more: result.hasMore,
      url: "/v1/identity/verification_sessions",
    }
  }

  #cursors(
    params: ListParams,
    find: (id: string, param: string) => number,
  ): { startingAfter?: number; endingBefore?: number } {
    if (params.starting_after !== undefined && params.ending_before !== undefined)
      throw invalidRequest(
        "You may only specify one of these parameters: ending_before, starting_after.",
        "ending_before",
        "parameters_exclusive",
      )
    if (params.starting_after !== undefined)
      return { startingAfter: find(params.starting_after, "starting_after") }
    if (params.ending_before !== undefined)
      return { endingBefore: find(params.ending_before, "ending_before") }
    return {}
  }

  // ---- events --------------------------------------------------------------------------------

  /** The index of live event `id`, or a 404 (also for events past the 30-day window). */
  findEvent(id: string, param = "id"): number {
    const i = this.eventIds.decode(id)
    if (i === undefined || i >= this.events.size || i < this.events.floor(this.clock.nowSeconds()))
      throw resourceMissing("event", id, param)
    return i
  }

  /** Renders event `i` as Stripe's `event` object. */
  renderEvent(i: number): Record<string, unknown> {
    const { snapshot, request } = this.#eventSnapshot(i)
    return {
      id: this.eventIds.encode(i),
      object: "event",
      // Stripe's Event.account: set on a connected account's events only.
      ...(this.platform === undefined ? {} : { account: this.accountId }),
      api_version: this.apiVersion,
      created: this.events.created(i),
      data: { object: snapshot },
      livemode: false,
      pending_webhooks: this.events.pending(i),
      request,
      type: this.events.type(i),
    }
  }

  /**
   * The session snapshot and request of event `i`. Generated history is re-rendered from its
   * batch. Once a session is redacted its events are too (Stripe redacts related objects,
   * fact sheet §2.3): the snapshot's metadata is erased.
   */
  #eventSnapshot(i: number): { snapshot: Record<string, unknown>; request: EventRequest } {
    const d = this.events.detail(i)
    const s = this.events.session(i)
    let snapshot: Record<string, unknown>
    let request: EventRequest
    if ("snapshot" in d) {
      snapshot = d.snapshot
      request = d.request
    } else {
      const batch = this.sessions.batchOf(s)
      if (batch === undefined) throw new Error(`event ${i} has neither a snapshot nor a batch`)
      const created = this.sessions.created(s)
      const step = generateHistory(batch, s, created).steps[d.step]!
      snapshot = renderSession(
        this.sessionIds.encode(s),
        s,
        created,
        step.state,
        new Set(),
        this.context(step.at),
      )
      request = AUTOMATIC
    }
    if (this.sessions.redactionCode(s) !== 0) snapshot = { ...snapshot, metadata: {} }
    return { snapshot, request }
  }

  /** Lists live events, newest first. */
  listEvents(
    params: ListParams & { type?: string; types?: string[]; delivery_success?: boolean },
  ): ListObject {
    const ev = this.events
    const mask = readTypeFilter(params.type, params.types)
    const filters: Array<(i: number) => boolean> = []
    if (mask !== undefined) filters.push((i) => mask[ev.typeCode(i)] === 1)
    if (params.delivery_success !== undefined) {
      const want = params.delivery_success
      filters.push((i) => (ev.pending(i) === 0) === want)
    }
    const cursors = this.#cursors(params, (id, param) => this.findEvent(id, param))
    const result = page({
      size: ev.size,
      floor: ev.floor(this.clock.nowSeconds()),
      firstAtOrAfter: (x) => ev.firstCreatedAtOrAfter(x),
      created: params.created,
      ...cursors,
      limit: params.limit ?? 10,
      matches: filters.length === 0 ? undefined : (i) => filters.every((f) => f(i)),
    })
    return {
      object: "list",
      data: result.indices.map((i) => this.renderEvent(i)),
      has_more: result.hasMore,
      url: "/v1/events",
    }
  }

  // ---- generation ----------------------------------------------------------------------------

  /**
   * Appends `count` sessions with random legal histories, created over the last `spanDays`
   * (never before the newest existing session). Their events inside the 30-day window are
   * recorded as already delivered; no webhooks are sent for history.
   */
  generate(
    count: number,
    options: { seed?: number; spanDays?: number } = {},
  ): { first: string | null; last: string | null } {
    if (!Number.isInteger(count) || count < 0 || this.sessions.size + count > MAX_GENERATED)
      throw invalidRequest(
        `count must be an integer, and the table holds at most ${MAX_GENERATED} sessions`,
        "count",
      )
    if (count === 0) return { first: null, last: null }
    const now = this.clock.nowSeconds()
    const spanDays = options.spanDays ?? 90
    const t = this.sessions
    const from = Math.max(t.size > 0 ? t.created(t.size - 1) : 0, now - Math.floor(spanDays * 86_400))
    const batch: Batch = {
      seed: (options.seed ?? hash32(this.seed, ++this.#batches)) >>> 0,
      start: t.size,
      count,
      until: now,
      // Each generated session owns REPORTS_PER_SESSION report indices above the API's range.
      reportStart: GENERATED_REPORTS + t.size * REPORTS_PER_SESSION,
    }
    const last = this.events.size > 0 ? this.events.created(this.events.size - 1) : 0
    const floor = Math.max(now - 30 * 86_400, Math.min(last, now))
    // Collect in-window history events, then append them in time order. One packed sort key per
    // event (seconds since floor · session index · step · type) keeps a million sessions cheap.
    let keys = new Float64Array(Math.min(count * 5, 1 << 20))
    let n = 0
    const span = now - from
    t.appendBatch(
      batch,
      (k) => from + Math.floor((k * span) / count),
      (i, h) => {
        h.steps.forEach((step, s) => {
          if (step.at < floor) return
          if (n === keys.length) {
            const next = new Float64Array(keys.length * 2)
            next.set(keys)
            keys = next
          }
          keys[n++] = (step.at - floor) * KEY_SECOND + i * 64 + s * 8 + EVENT_TYPES.indexOf(step.type)
        })
      },
    )
    for (const key of keys.subarray(0, n).sort()) {
      const rel = Math.floor(key / KEY_SECOND)
      const rest = key - rel * KEY_SECOND
      const i = Math.floor(rest / 64)
      const s = Math.floor((rest % 64) / 8)
      this.events.appendGenerated(floor + rel, i, EVENT_TYPES[rest % 8]!, s)
    }
    return {
      first: this.sessionIds.encode(batch.start),
      last: this.sessionIds.encode(batch.start + count - 1),
    }
  }

  /** Stops webhook delivery (for every account: they share one dispatcher). */
  close(): void {
    this.webhooks.close()
  }
}

/** Session indices must fit the 24 bits the event sort key gives them. */
const MAX_GENERATED = 2 ** 24 - 1
const API_REPORTS = 1_000_000_000
const VERIFIED_OUTPUT_KEYS: ReadonlyArray<string> = [
  "address",
  "dob",
  "email",
  "first_name",
  "id_number",
  "id_number_type",
  "last_name",
  "phone",
  "sex",
]
/** Sort-key weight of one second: leaves 30 bits for session index (24), step (3) and type (3). */
const KEY_SECOND = 2 ** 30
const GENERATED_REPORTS = 2_000_000_000
