/**
 * The session table: every session in creation order. Position in the table is the creation
 * index, encoded in the session id (see ids.ts), so a cursor is found in O(1) and a page deep in
 * a million sessions costs what the first page costs.
 *
 * Columns the list filters read (created, status, redaction, client reference, customer) live in
 * typed arrays; the rest of a session lives in a record that exists only once the session was
 * created through the API or changed. Until then a generated session is recomputed from its
 * batch (generate.ts), which is what lets a million sessions fit in memory.
 *
 * @module
 */

import { capacityFor, firstAtOrAfter, grown } from "./columns.ts"
import { type Batch, type GeneratedHistory, generateHistory } from "./generate.ts"
import {
  REDACTIONS,
  type Redaction,
  type SessionRecord,
  type SessionState,
  STATUSES,
  type Status,
} from "./sessions.ts"

const NONE = -1

/** Creation-ordered storage of sessions. */
export class SessionTable {
  #size = 0
  #created = new Float64Array(1024)
  #status = new Uint8Array(1024)
  #redaction = new Uint8Array(1024)
  #reference = new Int32Array(1024)
  #customer = new Int32Array(1024)
  readonly #records = new Map<number, SessionRecord>()
  readonly #batches: Batch[] = []
  readonly #strings: string[] = []
  readonly #codes = new Map<string, number>()

  /** Number of sessions. */
  get size(): number {
    return this.#size
  }

  /** Creation time (unix seconds) of session `i`. */
  created(i: number): number {
    return this.#created[i]!
  }

  /** Status code of session `i` (an index into {@link STATUSES}). */
  statusCode(i: number): number {
    return this.#status[i]!
  }

  /** Redaction code of session `i` (an index into {@link REDACTIONS}; 0 means none). */
  redactionCode(i: number): number {
    return this.#redaction[i]!
  }

  /** Interned code of session `i`'s client_reference_id (-1 when null). */
  referenceCode(i: number): number {
    return this.#reference[i]!
  }

  /** Interned code of session `i`'s related_customer (-1 when null). */
  customerCode(i: number): number {
    return this.#customer[i]!
  }

  /** The code a filter value compares against, or undefined when no session has that value. */
  lookupCode(value: string): number | undefined {
    return this.#codes.get(value)
  }

  #intern(value: string | null): number {
    if (value === null) return NONE
    let code = this.#codes.get(value)
    if (code === undefined) {
      code = this.#strings.length
      this.#strings.push(value)
      this.#codes.set(value, code)
    }
    return code
  }

  #ensure(capacity: number): void {
    if (capacity <= this.#created.length) return
    const n = capacityFor(this.#created.length, capacity)
    this.#created = grown(this.#created, n)
    this.#status = grown(this.#status, n)
    this.#redaction = grown(this.#redaction, n)
    this.#reference = grown(this.#reference, n)
    this.#customer = grown(this.#customer, n)
  }

  #setColumns(i: number, state: SessionState): void {
    this.#status[i] = STATUSES.indexOf(state.status)
    this.#redaction[i] = REDACTIONS.indexOf(state.redaction)
  }

  /** Appends a session created at `created` (never earlier than the last one) and returns its index. */
  append(created: number, state: SessionState): number {
    const i = this.#size
    if (i > 0 && created < this.#created[i - 1]!) throw new Error("sessions must be appended in time order")
    this.#ensure(i + 1)
    this.#created[i] = created
    this.#reference[i] = this.#intern(state.record.client_reference_id)
    this.#customer[i] = this.#intern(state.record.related_customer)
    this.#setColumns(i, state)
    this.#records.set(i, state.record)
    this.#size = i + 1
    return i
  }

  /**
   * Appends `batch.count` generated sessions with the given creation times and returns each
   * one's history, for the caller to record their events.
   */
  appendBatch(
    batch: Batch,
    createdAt: (k: number) => number,
    onHistory: (index: number, h: GeneratedHistory) => void,
  ): void {
    this.#ensure(this.#size + batch.count)
    this.#batches.push(batch)
    for (let k = 0; k < batch.count; k++) {
      const i = batch.start + k
      const created = createdAt(k)
      this.#created[i] = created
      const h = generateHistory(batch, i, created)
      this.#reference[i] = this.#intern(h.state.record.client_reference_id)
      this.#customer[i] = this.#intern(h.state.record.related_customer)
      this.#setColumns(i, h.state)
      this.#size = i + 1
      onHistory(i, h)
    }
  }

  /** The batch session `i` was generated in, if it was. */
  batchOf(i: number): Batch | undefined {
    const batches = this.#batches
    let lo = 0
    let hi = batches.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const b = batches[mid]!
      if (i < b.start) hi = mid - 1
      else if (i >= b.start + b.count) lo = mid + 1
      else return b
    }
    return undefined
  }

  /** Session `i`'s full state (recomputed for untouched generated sessions). */
  state(i: number): SessionState {
    const status = STATUSES[this.#status[i]!] as Status
    const redaction = REDACTIONS[this.#redaction[i]!] as Redaction
    let record = this.#records.get(i)
    if (record === undefined) {
      const batch = this.batchOf(i)
      if (batch === undefined) throw new Error(`session ${i} has neither a record nor a batch`)
      record = generateHistory(batch, i, this.created(i)).state.record
    }
    return { status, redaction, record }
  }

  /** Replaces session `i`'s state (its client reference and customer never change after creation). */
  set(i: number, state: SessionState): void {
    this.#setColumns(i, state)
    this.#records.set(i, state.record)
  }

  /** The first index whose creation time is ≥ `t` (binary search; creation order is time order). */
  firstCreatedAtOrAfter(t: number): number {
    return firstAtOrAfter(this.#created, this.#size, t)
  }
}
