/**
 * The benchmark's fair reference: the same work as an idtrail append, written by hand on a copy of
 * idtrail's own tables (a schema of its own). One prepared statement per append, one round trip,
 * its own transaction: it checks the Stripe event id for a duplicate, checks and bumps the
 * stream's version on the session row (an insert for a new stream, a conditional update for an
 * existing one), inserts the event rows and writes the same projection row, with the projection's
 * columns sent as parameters. The client folds the events and builds the row as idtrail does.
 *
 * It answers only "written" or "not written" (no positions, no reason): the least a hand-written
 * append could get away with, so the reference errs on its own side.
 */
import { fold, initialState, type SessionEvent, type SessionState } from "@idtrail/domain"
import pg from "pg"
import { sessionRowOf } from "../src/session-row.ts"

/** Copies idtrail's event log and session row (columns, defaults, identity, indexes) into `refSchema`. */
export const createSameWorkTables = async (
  admin: pg.Pool,
  storeSchema: string,
  refSchema: string,
): Promise<void> => {
  await admin.query(`drop schema if exists ${refSchema} cascade;
    create schema ${refSchema};
    create table ${refSchema}.events (like ${storeSchema}.events including all);
    create table ${refSchema}.verification_sessions (like ${storeSchema}.verification_sessions including all)
      with (fillfactor = 50);`)
}

const rowColumns =
  "status, redaction_status, last_error_code, type, livemode, created, metadata, needs_refresh, last_change_at, state, confirmed_at"

/** The statements: a new stream's, an existing stream's, each for one event or a JSON array of them. */
const statements = (s: string) => {
  // $1 stream, $2 expected version, $3 Stripe event id, $4 metadata, then the row's columns $5..$15,
  // then the event(s): $16 type and $17 data (one), or $16 the JSON array (many).
  const rowValues =
    "$5::text, $6::text, $7::text, $8::text, $9::boolean, to_timestamp($10::bigint), $11::jsonb, $12::boolean, to_timestamp($13::bigint), $14::json, $15::bigint"
  const notDuplicate = `not exists (select 1 from ${s}.events e where e.stripe_event_id = $3::text)`
  const insertRow = `insert into ${s}.verification_sessions (session_id, ${rowColumns}, version)
      select $1::text, ${rowValues}, $2::bigint + $18 where ${notDuplicate}
      on conflict (session_id) do nothing
      returning version`
  const updateRow = `update ${s}.verification_sessions v set (${rowColumns}, version, updated_at) =
      (${rowValues}, $2::bigint + $18, now())
      where v.session_id = $1 and v.version = $2 and ${notDuplicate}
      returning v.version`
  const insertOne = `insert into ${s}.events (stream_id, stream_version, type, data, metadata, stripe_event_id)
      select $1::text, r.version, $16::text, $17::jsonb, $4::jsonb, $3::text from r returning position`
  const insertMany = `insert into ${s}.events (stream_id, stream_version, type, data, metadata, stripe_event_id)
      select $1::text, $2::bigint + e.ord, e.value->>'_tag', e.value, $4::jsonb, case when e.ord = 1 then $3::text end
        from r, jsonb_array_elements($16::jsonb) with ordinality as e(value, ord)
      returning position`
  const many = (text: string) => text.replaceAll("$18", "jsonb_array_length($16::jsonb)")
  const one = (text: string) => text.replaceAll("$18", "1")
  return {
    newOne: one(`with r as (${insertRow}) ${insertOne}`),
    existingOne: one(`with r as (${updateRow}) ${insertOne}`),
    newMany: many(`with r as (${insertRow}) ${insertMany}`),
    existingMany: many(`with r as (${updateRow}) ${insertMany}`),
  }
}

/** A hand-written append on its own pool; `append` returns whether the events were written. */
export const sameWorkAppender = (url: string, refSchema: string, poolSize: number) => {
  const pool = new pg.Pool({ connectionString: url, max: poolSize })
  const text = statements(refSchema)
  const states = new Map<string, SessionState>()
  return {
    append: async (
      stream: string,
      events: ReadonlyArray<SessionEvent>,
      version: number,
      stripeEventId: string,
      metadata: string,
    ): Promise<boolean> => {
      const before = states.get(stream) ?? initialState
      const after = fold(events, before)
      const row = sessionRowOf(after)
      const head = [
        stream,
        version,
        stripeEventId,
        metadata,
        row.status,
        row.redactionStatus,
        row.lastErrorCode,
        row.type,
        row.livemode,
        row.created,
        row.metadata,
        row.needsRefresh,
        row.lastChangeAt,
        row.state,
        row.confirmedAt,
      ]
      const single = events.length === 1
      const kind = `${version === 0 ? "new" : "existing"}${single ? "One" : "Many"}` as keyof typeof text
      const result = await pool.query({
        name: `bench_same_work_${kind}`,
        text: text[kind],
        values: single
          ? [...head, events[0]!._tag, JSON.stringify(events[0])]
          : [...head, JSON.stringify(events)],
      })
      const written = result.rows.length === events.length
      if (written) states.set(stream, after)
      return written
    },
    forget: () => states.clear(),
    end: () => pool.end(),
  }
}
