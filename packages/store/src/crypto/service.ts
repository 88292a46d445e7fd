/**
 * Personal data at the service's boundary: the store's operations, with personal values
 * encrypted before an append and decrypted after every read (`readStream`, `readAll`,
 * `readAllPages`, `state`, the audit history, `stateAt`, the sessions' table and histories). The
 * SQL append and read paths never see a plain personal value, and never need to know.
 *
 * @since 0.1.0
 */
import type { SessionState } from "@idtrail/domain"
import { Effect, Stream } from "effect"
import type { AppendResult } from "../append.ts"
import type { EventStoreService } from "../event-store.ts"
import type { PersonalCodec } from "./codec.ts"

export const withPersonalData = (service: EventStoreService, codec: PersonalCodec): EventStoreService => {
  const readState = (id: string, state: SessionState) => codec.readState(id, state)
  const readResult = (id: string, result: AppendResult) =>
    result._tag === "Appended"
      ? Effect.map(readState(id, result.state), (state) => ({ ...result, state }))
      : Effect.succeed(result)
  const audit = service.audit
  return {
    ...service,
    appendToStream: (streamId, events, options) =>
      Effect.gen(function* () {
        const written = yield* codec.forWriting(streamId, events, [options.state])
        const result = yield* service.appendToStream(streamId, written.events, {
          ...options,
          state: written.states[0],
        })
        return yield* readResult(streamId, result)
      }),
    state: (streamId) => Effect.flatMap(service.state(streamId), (s) => readState(streamId, s)),
    readStream: (streamId, options) =>
      Effect.flatMap(service.readStream(streamId, options), codec.readEvents),
    readAll: (options) =>
      Effect.flatMap(service.readAll(options), (page) =>
        Effect.map(codec.readEvents(page.events), (events) => ({ ...page, events })),
      ),
    readAllPages: (options) =>
      Stream.mapEffect(service.readAllPages(options), (page) =>
        Effect.map(codec.readEvents(page.events), (events) => ({ ...page, events })),
      ),
    audit: {
      ...audit,
      history: (sessionId) =>
        Effect.flatMap(audit.history(sessionId), (entries) =>
          Effect.map(codec.readers([sessionId]), (r) =>
            entries.map((e) => ({ ...e, event: r.event(sessionId, e.event) })),
          ),
        ),
      stateAt: (sessionId, at, options) =>
        Effect.flatMap(audit.stateAt(sessionId, at, options), (s) => readState(sessionId, s)),
      sessionsCreated: (window, page) =>
        Effect.flatMap(audit.sessionsCreated(window, page), (rows) =>
          Effect.map(codec.readers(rows.map((r) => r.sessionId)), (r) =>
            rows.map((row) => ({
              ...row,
              metadata: Object.fromEntries(
                Object.entries(row.metadata).map(([k, v]) => [k, r.value(row.sessionId, v)]),
              ),
            })),
          ),
        ),
      histories: (sessionIds) => Effect.flatMap(audit.histories(sessionIds), codec.readEvents),
    },
  }
}
