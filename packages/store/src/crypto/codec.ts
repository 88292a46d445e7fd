/**
 * The codec between the domain's plain values and what the store writes: personal values (by the
 * domain's classification, `personalFactPaths`) encrypted under their session's key before an
 * event or a state reaches SQL, and decrypted after a read. Field names, statuses, times, codes
 * and ids pass through untouched. For an erased session every personal value reads as
 * `[erased]`, and is written as `[erased]`: a payload arriving after erasure stores nothing.
 *
 * @since 0.1.0
 */
import {
  erasedValue,
  mapPersonalEvent,
  mapPersonalState,
  type PersonalValueMap,
  type SessionEvent,
  type SessionState,
} from "@idtrail/domain"
import { Effect, Result } from "effect"
import type { StoreContext } from "../context.ts"
import type { DatabaseError, ForbiddenField, InvalidEvent, PayloadTooLarge } from "../errors.ts"
import { encodeForStorage } from "../guards.ts"
import type { RecordedEvent } from "../read.ts"
import { decryptValueMemo, encryptValueMemo, isEncrypted } from "./cipher.ts"
import type { KeyEncryptionKeyInvalid } from "./errors.ts"
import type { KeyState, SessionKeys } from "./session-keys.ts"

/** Whether an event or state holds any personal value (a string at a personal path). */
const holdsPersonal = (map: (f: PersonalValueMap) => unknown): boolean => {
  let found = false
  map((v) => {
    found = true
    return v
  })
  return found
}
export const eventHoldsPersonal = (event: SessionEvent): boolean =>
  holdsPersonal((f) => mapPersonalEvent(event, f))
export const stateHoldsPersonal = (state: SessionState): boolean =>
  state.facts !== null && holdsPersonal((f) => mapPersonalState(state, f))

const erase: PersonalValueMap = () => erasedValue

/** How values are written for a session in this key state. */
const writer = (sessionId: string, key: KeyState): PersonalValueMap | undefined => {
  switch (key._tag) {
    case "Key":
      return (v) => encryptValueMemo(key.key, sessionId, v)
    case "Erased":
      return erase
    case "None":
      return undefined
  }
}

/** How stored values read for a session in this key state. */
const reader = (sessionId: string, key: KeyState): PersonalValueMap | undefined => {
  switch (key._tag) {
    case "Key":
      return (v) => (isEncrypted(v) ? (decryptValueMemo(key.key, sessionId, v) ?? erasedValue) : v)
    case "Erased":
      return erase
    case "None":
      // No key: values written in clear (before a KEK was configured) read as they are; an
      // encrypted value without a key is unreadable.
      return (v) => (isEncrypted(v) ? erasedValue : v)
  }
}

export interface PersonalCodec {
  /** `encrypted` with a KEK; `clear` without (values are kept as given, erasure is refused). */
  readonly mode: "encrypted" | "clear"
  readonly keys: SessionKeys
  /** The events and states as they are to be stored for `sessionId`. */
  readonly forWriting: (
    sessionId: string,
    events: ReadonlyArray<SessionEvent>,
    states: ReadonlyArray<SessionState | undefined>,
  ) => Effect.Effect<
    {
      readonly events: ReadonlyArray<SessionEvent>
      readonly states: ReadonlyArray<SessionState | undefined>
    },
    DatabaseError | KeyEncryptionKeyInvalid | InvalidEvent | ForbiddenField | PayloadTooLarge
  >
  /** A stored state, readable. */
  readonly readState: (sessionId: string, state: SessionState) => Effect.Effect<SessionState, DatabaseError>
  /** Stored events, readable (one key query for the sessions not cached). */
  readonly readEvents: (
    events: ReadonlyArray<RecordedEvent>,
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, DatabaseError>
  /** The readers of a page of sessions, for folding many streams (the rebuild). */
  readonly readers: (sessionIds: ReadonlyArray<string>) => Effect.Effect<
    {
      readonly event: (sessionId: string, event: SessionEvent) => SessionEvent
      readonly state: (sessionId: string, state: SessionState) => SessionState
      readonly writeState: (sessionId: string, state: SessionState) => SessionState
      readonly value: (sessionId: string, value: string) => string
    },
    DatabaseError
  >
  readonly isErased: (sessionId: string) => Effect.Effect<boolean, DatabaseError>
}

export const makePersonalCodec = (mode: "encrypted" | "clear", keys: SessionKeys): PersonalCodec => {
  const keyOf = (id: string) => Effect.map(keys.lookup([id]), (m) => m.get(id) ?? ({ _tag: "None" } as const))
  return {
    mode,
    keys,
    forWriting: (sessionId, events, states) =>
      Effect.gen(function* () {
        if (!events.some(eventHoldsPersonal) && !states.some((s) => s !== undefined && stateHoldsPersonal(s)))
          return { events, states }
        // The log's checks (NUL, lone surrogates, secrets, size) on the plain values: once
        // encrypted, a value would pass them all.
        for (const [index, event] of events.entries()) {
          const checked = encodeForStorage(event, index)
          if (Result.isFailure(checked)) return yield* Effect.fail(checked.failure)
        }
        const key = yield* keys.forWriting(sessionId)
        const f = writer(sessionId, key)
        if (f === undefined) return { events, states }
        return {
          events: events.map((e) => mapPersonalEvent(e, f)),
          states: states.map((s) => (s === undefined ? s : mapPersonalState(s, f))),
        }
      }),
    readState: (sessionId, state) =>
      stateHoldsPersonal(state)
        ? Effect.map(keyOf(sessionId), (key) => {
            const f = reader(sessionId, key)
            return f === undefined ? state : mapPersonalState(state, f)
          })
        : Effect.succeed(state),
    readEvents: (recorded) =>
      Effect.gen(function* () {
        const ids = new Set<string>()
        for (const r of recorded) if (eventHoldsPersonal(r.event)) ids.add(r.streamId)
        if (ids.size === 0) return recorded
        const states = yield* keys.lookup([...ids])
        return recorded.map((r) => {
          if (!ids.has(r.streamId)) return r
          const f = reader(r.streamId, states.get(r.streamId) ?? { _tag: "None" })
          return f === undefined ? r : { ...r, event: mapPersonalEvent(r.event, f) }
        })
      }),
    readers: (sessionIds) =>
      Effect.map(keys.lookup(sessionIds), (states) => {
        const stateOf = (id: string): KeyState => states.get(id) ?? { _tag: "None" }
        return {
          event: (id, event) => {
            const f = reader(id, stateOf(id))
            return f === undefined ? event : mapPersonalEvent(event, f)
          },
          state: (id, state) => {
            const f = reader(id, stateOf(id))
            return f === undefined ? state : mapPersonalState(state, f)
          },
          writeState: (id, state) => {
            const f = writer(id, stateOf(id))
            return f === undefined ? state : mapPersonalState(state, f)
          },
          value: (id, value) => reader(id, stateOf(id))?.(value) ?? value,
        }
      }),
    isErased: (sessionId) => Effect.map(keyOf(sessionId), (k) => k._tag === "Erased"),
  }
}

// Each store context's codec, for the modules that take a context (handle, rebuild).
const codecs = new WeakMap<StoreContext, PersonalCodec>()

export const registerCodec = (ctx: StoreContext, codec: PersonalCodec): void => {
  codecs.set(ctx, codec)
}

/** The codec of a context (undefined: a context opened without one, as in the store's own unit tests). */
export const codecOf = (ctx: StoreContext): PersonalCodec | undefined => codecs.get(ctx)
