/**
 * Idempotency keys for POST requests (fact sheet §6.5). The first response of a request that
 * started executing is saved with a fingerprint of the request; a replay with the same key gets
 * the saved status and body back, and the same key with a different request is an
 * `idempotency_error`. Validation failures are not saved. Keys expire after 24 hours of
 * simulator time.
 *
 * @module
 */

const TTL_SECONDS = 24 * 3600

/** A saved response. */
export interface SavedResponse {
  readonly status: number
  readonly body: string
}

interface Entry {
  readonly fingerprint: string
  readonly savedAt: number
  response: SavedResponse | undefined
}

/** What a request finds under its key. */
export type Lookup =
  | { readonly kind: "new" }
  | { readonly kind: "replay"; readonly response: SavedResponse }
  | { readonly kind: "mismatch" }
  | { readonly kind: "in_progress" }

/** The saved responses, per API key and idempotency key. */
export class IdempotencyStore {
  readonly #entries = new Map<string, Entry>()

  /** Looks up `key`; a "new" result reserves it until {@link save} or {@link release}. */
  begin(apiKey: string, key: string, fingerprint: string, now: number): Lookup {
    this.#prune(now)
    const id = `${apiKey}\u0000${key}`
    const entry = this.#entries.get(id)
    if (entry !== undefined && now - entry.savedAt < TTL_SECONDS) {
      if (entry.fingerprint !== fingerprint) return { kind: "mismatch" }
      return entry.response === undefined
        ? { kind: "in_progress" }
        : { kind: "replay", response: entry.response }
    }
    // Delete first so the Map's insertion order stays the order of savedAt, which #prune relies on.
    this.#entries.delete(id)
    this.#entries.set(id, { fingerprint, savedAt: now, response: undefined })
    return { kind: "new" }
  }

  /** Forgets expired keys: the oldest come first, so this stops at the first live one. */
  #prune(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (now - entry.savedAt < TTL_SECONDS) break
      this.#entries.delete(id)
    }
  }

  /** Number of keys held (expired ones are dropped as new requests arrive). */
  get size(): number {
    return this.#entries.size
  }

  /** Saves the response for a key reserved by {@link begin}. */
  save(apiKey: string, key: string, response: SavedResponse): void {
    const entry = this.#entries.get(`${apiKey}\u0000${key}`)
    if (entry !== undefined) entry.response = response
  }

  /** Forgets a reservation whose request never started executing (bad input, injected fault). */
  release(apiKey: string, key: string): void {
    const id = `${apiKey}\u0000${key}`
    if (this.#entries.get(id)?.response === undefined) this.#entries.delete(id)
  }
}
