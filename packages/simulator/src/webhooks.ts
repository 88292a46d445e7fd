/**
 * Webhook delivery: signed POSTs of each event to every registered endpoint, retried with
 * backoff on failure, with seeded faults that real integrations meet — lost deliveries,
 * duplicates, reordering and delays.
 *
 * The signature is Stripe's scheme (fact sheet §5): `Stripe-Signature: t=<unix>,v1=<hex>` where
 * the hex is HMAC-SHA256 over `${t}.${rawBody}` keyed with the endpoint's `whsec_…` secret, so
 * `stripe.webhooks.constructEvent` accepts it.
 *
 * @module
 */
import { createHmac } from "node:crypto"
import type { Clock } from "./clock.ts"
import { typeMask } from "./events.ts"
import { hash32, makeRandom, type Random, randomToken } from "./random.ts"
import { EVENT_TYPES, type EventType } from "./sessions.ts"

/** Faults applied to deliveries. Rates are probabilities in [0, 1], drawn per delivery. */
export interface WebhookFaults {
  /** A delivery is lost: never sent, and Stripe counts it as delivered (the receiver lost it). */
  readonly dropRate: number
  /** A delivery is sent twice; the copy joins the back of the queue. */
  readonly duplicateRate: number
  /** Deliveries are shuffled within windows of this many (≤ 1: in order). */
  readonly reorderWindow: number
  /** A delivery is held back for up to `delayMs` before joining the queue again. */
  readonly delayRate: number
  readonly delayMs: number
}

/** Retry policy for non-2xx answers, connection errors and timeouts. */
export interface RetryPolicy {
  /** Attempts per delivery, the first included. */
  readonly maxAttempts: number
  /** Wait before the first retry; doubles each time. */
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  /** An attempt that takes longer fails. */
  readonly timeoutMs: number
}

/** Defaults: no faults; retries fast enough for tests. */
export const DEFAULT_WEBHOOK_FAULTS: WebhookFaults = {
  dropRate: 0,
  duplicateRate: 0,
  reorderWindow: 1,
  delayRate: 0,
  delayMs: 0,
}
/** Defaults: four attempts, 50 ms doubling to at most 2 s, 5 s per attempt. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 50,
  maxDelayMs: 2000,
  timeoutMs: 5000,
}

/** A registered endpoint. */
export interface WebhookEndpoint {
  readonly id: string
  readonly url: string
  readonly secret: string
  /** Event types it receives; `*` wildcards allowed. */
  readonly enabled_events: ReadonlyArray<string>
  /**
   * Stripe's Connect endpoint: receives the events of every connected account (they carry
   * `account`), and no platform events. False: an ordinary endpoint, platform events only.
   */
  readonly connect: boolean
}

/** Counters for what delivery did so far. */
export interface WebhookStats {
  /** HTTP requests made (retries and duplicates included). */
  attempts: number
  /** Deliveries acknowledged with a 2xx. */
  delivered: number
  /** Deliveries that used up their attempts. */
  failed: number
  /** Deliveries lost by the drop fault. */
  dropped: number
  /** Extra copies made by the duplicate fault. */
  duplicated: number
  /** Deliveries held back by the delay fault. */
  delayed: number
  retried: number
}

interface Delivery {
  readonly source: EventSource
  readonly event: number
  readonly endpoint: WebhookEndpoint
  readonly mask: Uint8Array
  attempt: number
  /** The first copy acknowledges the event for `pending_webhooks`; a duplicate does not. */
  readonly original: boolean
}

/** Signs a payload the way Stripe does; returns the `Stripe-Signature` header value. */
export const signPayload = (payload: string, secret: string, timestamp: number): string =>
  `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.${payload}`, "utf8").digest("hex")}`

/** What the dispatcher needs from the simulator. */
export interface DispatcherHost {
  readonly clock: Clock
  readonly seed: number
}

/** One account's event log, as the dispatcher sees it. Events are indices into it. */
export interface EventSource {
  /** True for a connected account: its events go to Connect endpoints only. */
  readonly connect: boolean
  /** The event's JSON as delivered. */
  readonly render: (event: number) => string
  readonly type: (event: number) => EventType
  /** One endpoint acknowledged the event (or lost it silently). */
  readonly acknowledge: (event: number) => void
  /** Counters of this account's deliveries (the dispatcher's own count every account). */
  readonly stats: WebhookStats
}

/** Zeroed counters. */
export const emptyWebhookStats = (): WebhookStats => ({
  attempts: 0,
  delivered: 0,
  failed: 0,
  dropped: 0,
  duplicated: 0,
  delayed: 0,
  retried: 0,
})

/** Delivers events to endpoints. */
export class WebhookDispatcher {
  readonly #host: DispatcherHost
  readonly #endpoints: Array<{ endpoint: WebhookEndpoint; mask: Uint8Array }> = []
  readonly #decide: Random
  readonly #shuffle: Random
  readonly #ids: Random
  #faults: WebhookFaults = DEFAULT_WEBHOOK_FAULTS
  #retry: RetryPolicy = DEFAULT_RETRY_POLICY
  readonly #queue: Delivery[] = []
  #inflight = 0
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  #waiters: Array<() => void> = []
  #closed = false
  #pumping = false
  #draining = false
  /** Counters over every account. */
  readonly stats: WebhookStats = emptyWebhookStats()

  constructor(host: DispatcherHost) {
    this.#host = host
    this.#decide = makeRandom(hash32(host.seed, 0x3ebb00c))
    this.#shuffle = makeRandom(hash32(host.seed, 0x5f1f))
    this.#ids = makeRandom(hash32(host.seed, 0x1d5))
  }

  /**
   * Registers an endpoint; a secret is minted when none is given.
   *
   * @throws TypeError when the URL is not an http(s) URL.
   */
  addEndpoint(input: {
    url: string
    secret?: string
    enabled_events?: ReadonlyArray<string>
    connect?: boolean
  }): WebhookEndpoint {
    const parsed = new URL(input.url)
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new TypeError("webhook URLs must be http(s)")
    const url = parsed.toString()
    const endpoint: WebhookEndpoint = {
      id: `we_${randomToken(this.#ids, 24)}`,
      url,
      secret: input.secret ?? `whsec_${randomToken(this.#ids, 32)}`,
      enabled_events: input.enabled_events ?? ["*"],
      connect: input.connect ?? false,
    }
    this.#endpoints.push({ endpoint, mask: typeMask(endpoint.enabled_events) })
    return endpoint
  }

  /** Unregisters an endpoint; its queued deliveries are abandoned. True when it existed. */
  removeEndpoint(id: string): boolean {
    const i = this.#endpoints.findIndex((e) => e.endpoint.id === id)
    if (i < 0) return false
    this.#endpoints.splice(i, 1)
    return true
  }

  /** The registered endpoints. */
  endpoints(): WebhookEndpoint[] {
    return this.#endpoints.map((e) => e.endpoint)
  }

  /** How many endpoints of the kind (Connect or not) subscribe to `type`: `pending_webhooks`. */
  subscribers(type: EventType, connect: boolean): number {
    const code = EVENT_TYPES.indexOf(type)
    return this.#endpoints.filter((e) => e.endpoint.connect === connect && e.mask[code] === 1).length
  }

  #count(source: EventSource, key: keyof WebhookStats): void {
    this.stats[key]++
    source.stats[key]++
  }

  /** Replaces some of the fault settings. */
  setFaults(faults: Partial<WebhookFaults>): WebhookFaults {
    this.#faults = { ...this.#faults, ...faults }
    return this.#faults
  }

  /** The current fault settings. */
  get faults(): WebhookFaults {
    return this.#faults
  }

  /** Replaces some of the retry policy. */
  setRetryPolicy(policy: Partial<RetryPolicy>): RetryPolicy {
    this.#retry = { ...this.#retry, ...policy }
    return this.#retry
  }

  /**
   * Queues event `event` of `source` for every subscribed endpoint of its kind, deciding its
   * faults now (seeded order).
   */
  enqueue(source: EventSource, event: number): void {
    const code = EVENT_TYPES.indexOf(source.type(event))
    const f = this.#faults
    for (const { endpoint, mask } of this.#endpoints) {
      if (endpoint.connect !== source.connect || mask[code] !== 1) continue
      if (this.#decide.chance(f.dropRate)) {
        this.#count(source, "dropped")
        source.acknowledge(event)
        continue
      }
      const copies = this.#decide.chance(f.duplicateRate) ? 2 : 1
      if (copies === 2) this.#count(source, "duplicated")
      for (let c = 0; c < copies; c++) {
        const delivery: Delivery = { source, event, endpoint, mask, attempt: 1, original: c === 0 }
        if (f.delayMs > 0 && this.#decide.chance(f.delayRate)) {
          this.#count(source, "delayed")
          this.#later(f.delayMs * (0.5 + this.#decide.next() / 2), delivery)
        } else this.#queue.push(delivery)
      }
    }
    this.#pump()
  }

  #later(ms: number, delivery: Delivery): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      if (this.#closed) return
      this.#queue.push(delivery)
      this.#pump()
    }, ms)
    this.#timers.add(timer)
  }

  #pump(): void {
    if (this.#pumping || this.#closed) return
    this.#pumping = true
    // Let the current request finish queuing its events before a reorder window is cut.
    setImmediate(() => {
      this.#pumping = false
      void this.#drain()
    })
  }

  async #drain(): Promise<void> {
    if (this.#draining || this.#closed) return
    this.#draining = true
    while (this.#queue.length > 0 && !this.#closed) {
      const window = Math.max(1, Math.floor(this.#faults.reorderWindow))
      const batch = this.#queue.splice(0, window)
      for (let i = batch.length - 1; i > 0; i--) {
        const j = this.#shuffle.int(i + 1)
        ;[batch[i], batch[j]] = [batch[j]!, batch[i]!]
      }
      this.#inflight = batch.length
      for (const d of batch) {
        await this.#send(d)
        this.#inflight--
      }
    }
    this.#draining = false
    this.#settle()
  }

  async #send(d: Delivery): Promise<void> {
    if (!this.#endpoints.some((e) => e.endpoint === d.endpoint)) return
    const body = d.source.render(d.event)
    const signature = signPayload(body, d.endpoint.secret, this.#host.clock.nowSeconds())
    this.#count(d.source, "attempts")
    let ok = false
    try {
      const res = await fetch(d.endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          "stripe-signature": signature,
        },
        body,
        signal: AbortSignal.timeout(this.#retry.timeoutMs),
      })
      await res.arrayBuffer()
      ok = res.status >= 200 && res.status < 300
    } catch {
      ok = false
    }
    if (ok) {
      this.#count(d.source, "delivered")
      if (d.original) d.source.acknowledge(d.event)
    } else if (d.attempt < this.#retry.maxAttempts && !this.#closed) {
      this.#count(d.source, "retried")
      const wait = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (d.attempt - 1))
      d.attempt++
      this.#later(wait, d)
    } else this.#count(d.source, "failed")
  }

  #settle(): void {
    if (this.#queue.length === 0 && this.#inflight === 0 && this.#timers.size === 0 && !this.#pumping) {
      const waiters = this.#waiters
      this.#waiters = []
      for (const w of waiters) w()
    }
  }

  /** True when nothing is queued, in flight, delayed or awaiting a retry. */
  get idle(): boolean {
    return this.#queue.length === 0 && this.#inflight === 0 && this.#timers.size === 0 && !this.#pumping
  }

  /** Resolves once every queued delivery, delay and retry has finished. */
  flush(): Promise<WebhookStats> {
    if (this.idle) return Promise.resolve({ ...this.stats })
    return new Promise((resolve) => this.#waiters.push(() => resolve({ ...this.stats })))
  }

  /** Stops delivering; pending deliveries are abandoned. */
  close(): void {
    this.#closed = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#queue.length = 0
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}
