/**
 * What an append writes into its session's row of `verification_sessions`, computed on the
 * client so the server parses nothing: the folded state as JSON, and the columns projected
 * from it. The SQL side projects the same columns from a state (`append_to_stream` and
 * `project_session`, see `sql/schema.sql`) for rebuilds and multi-event appends; a test holds the
 * two to the same rows.
 *
 * @since 0.1.0
 */
import type { SessionState } from "@idtrail/domain"

/** The parameters of `append_one` that fill the session's row. */
export interface SessionRow {
  /** The state as JSON text, its changing fields first. */
  readonly state: string
  readonly status: string | null
  readonly redactionStatus: string | null
  readonly lastErrorCode: string | null
  readonly type: string | null
  readonly livemode: boolean | null
  /** Stripe's `created`, unix seconds. */
  readonly created: number | null
  /** The merchant's metadata, as JSON text. */
  readonly metadata: string
  readonly needsRefresh: boolean
  /** Unix seconds (Stripe time). */
  readonly lastChangeAt: number | null
  /** The newest authoritative read handled, unix seconds (Stripe time); the row keeps the greatest. */
  readonly confirmedAt: number | null
}

/**
 * The state as JSON with the fields an append changes first and the stable ones (options, ids,
 * captured outputs) last. Postgres logs only the changed middle of a row it updates in place, so
 * a stable tail keeps the WAL of an append small. Same content as `JSON.stringify(state)`.
 */
export const stateJson = (state: SessionState): string => {
  const { facts, ...rest } = state
  // Object.assign keeps the order in which keys were first written: the leading ones, then the rest.
  const orderedFacts =
    facts === null
      ? null
      : Object.assign(
          {
            status: facts.status,
            redactionStatus: facts.redactionStatus,
            lastError: facts.lastError,
            metadata: facts.metadata,
          },
          facts,
        )
  return JSON.stringify(
    Object.assign(
      {
        version: rest.version,
        lastChangeAt: rest.lastChangeAt,
        needsRefresh: rest.needsRefresh,
        facts: orderedFacts,
      },
      rest,
    ),
  )
}

/** The session row an append writes for `state`. */
export const sessionRowOf = (state: SessionState): SessionRow => {
  const facts = state.facts
  return {
    state: stateJson(state),
    status: facts?.status ?? null,
    redactionStatus: facts?.redactionStatus ?? null,
    lastErrorCode: facts?.lastError?.code ?? null,
    type: facts?.type ?? null,
    livemode: facts?.livemode ?? null,
    created: facts?.created ?? null,
    metadata: JSON.stringify(facts?.metadata ?? {}),
    needsRefresh: state.needsRefresh,
    lastChangeAt: state.lastChangeAt,
    confirmedAt: state.confirmedAt ?? null,
  }
}
