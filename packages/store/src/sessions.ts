/**
 * Queries on the inline projection (`verification_sessions`) for jobs that walk the sessions a
 * page or a window at a time, such as the reconciler: they never load an account into memory,
 * and they need not know how the projection is laid out.
 *
 * @since 0.1.0
 */
import { terminalStatuses } from "@idtrail/domain"
import { Effect } from "effect"
import { sql } from "kysely"
import type { StoreContext } from "./context.ts"
import { type DatabaseError, InvalidArgument } from "./errors.ts"
import { query } from "./sql-errors.ts"

/** The most sessions one page of a query returns. */
export const maxPage = 10_000

/** A session and Stripe's `created` time (unix seconds). */
export interface CreatedSession {
  readonly id: string
  readonly created: number
}

/** An unsettled session, with what a job needs to decide when to read it again. */
export interface UnsettledSession {
  readonly sessionId: string
  /** Stripe's `created`, unix seconds; `null` when unknown. */
  readonly created: number | null
  /**
   * The newest authoritative read handled (unix seconds, Stripe time), whether or not it changed
   * anything; `null` when none was.
   */
  readonly confirmedAt: number | null
  /** An observation could not be placed; only an authoritative read settles it. */
  readonly needsRefresh: boolean
}

/**
 * Which sessions a query covers: one Stripe account's (its key: a platform account's name or a
 * connected account's `acct_…`; sessions recorded before accounts are `"default"`'s), one mode's
 * (`livemode`), or, when absent, every account's and both modes'.
 */
export interface SessionFilter {
  readonly account?: string | undefined
  readonly livemode?: boolean | undefined
}

/** The projection's queries, bound to one store. */
export interface SessionQueries {
  /**
   * Sessions not settled yet: not in a final status (`verified`, `canceled`), of unknown status,
   * or waiting for a refresh. One page of at most `limit` sessions after the id `after`, in id
   * order; the next page starts after the last `sessionId` of this one.
   */
  readonly unsettled: (
    options: {
      readonly after: string | null
      readonly limit: number
    } & SessionFilter,
  ) => Effect.Effect<ReadonlyArray<UnsettledSession>, InvalidArgument | DatabaseError>
  /**
   * Sessions Stripe created in `[from, to]` (unix seconds, both ends included; `to: null` has no
   * upper end), newest first as Stripe lists them (ties by id, descending). One page of at most
   * `limit`; the next page starts after the last session of this one.
   */
  readonly createdBetween: (
    options: {
      readonly from: number
      readonly to: number | null
      readonly after?: CreatedSession | null | undefined
      readonly limit: number
    } & SessionFilter,
  ) => Effect.Effect<ReadonlyArray<CreatedSession>, InvalidArgument | DatabaseError>
}

const invalid = (argument: string, message: string) => Effect.fail(new InvalidArgument({ argument, message }))

const isPageSize = (limit: unknown): limit is number =>
  Number.isSafeInteger(limit) && (limit as number) >= 1 && (limit as number) <= maxPage

const badLimit = (limit: unknown) =>
  invalid("limit", `limit must be an integer from 1 to ${maxPage}, got ${String(limit)}`)

const isSeconds = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value)

/** A filter's problem, if any: an account is a non-empty string, a mode a boolean. */
export const checkFilter = (filter: SessionFilter): InvalidArgument | undefined => {
  const { account, livemode } = filter
  if (account !== undefined && (typeof account !== "string" || account.length === 0))
    return new InvalidArgument({
      argument: "account",
      message: `account must be a non-empty account key (a platform account's name or acct_…), got ${JSON.stringify(account)}`,
    })
  if (livemode !== undefined && typeof livemode !== "boolean")
    return new InvalidArgument({
      argument: "livemode",
      message: `livemode must be true or false when present, got ${JSON.stringify(livemode)}`,
    })
  return undefined
}

/**
 * The filter's conditions on the session row aliased `alias`, each starting with `and`; nothing
 * when absent. Written only when given, so an account's query reads the (account, created) index.
 */
export const filterSql = (filter: SessionFilter, alias = "v") => {
  const column = (name: string) => sql.ref(`${alias}.${name}`)
  return sql.join(
    [
      sql``,
      ...(filter.account === undefined ? [] : [sql`and ${column("account")} = ${filter.account}`]),
      ...(filter.livemode === undefined ? [] : [sql`and ${column("livemode")} = ${filter.livemode}`]),
    ],
    sql` `,
  )
}

/** Whether the filter asks for anything. */
export const isFiltered = (filter: SessionFilter | undefined): filter is SessionFilter =>
  filter !== undefined && (filter.account !== undefined || filter.livemode !== undefined)

/**
 * `and <column> in (the filter's sessions)`, for queries over the log or its views, whose rows
 * name a session; nothing when the filter asks for nothing.
 */
export const inFilteredSessions = (ctx: StoreContext, column: string, filter: SessionFilter | undefined) =>
  isFiltered(filter)
    ? sql`and ${sql.ref(column)} in (select v.session_id from ${ctx.ref("verification_sessions")} v
                                  where true ${filterSql(filter)})`
    : sql``

export const sessions = (ctx: StoreContext): SessionQueries => ({
  unsettled: ({ after, limit, ...filter }) => {
    const bad = checkFilter(filter)
    if (bad !== undefined) return Effect.fail(bad)
    if (!isPageSize(limit)) return badLimit(limit)
    if (after !== null && typeof after !== "string")
      return invalid("after", `after must be a session id or null, got ${typeof after}`)
    return Effect.map(
      query("sessions.unsettled", () =>
        sql<{
          session_id: string
          created: number | null
          confirmed_at: string | null
          needs_refresh: boolean
        }>`
          select session_id, extract(epoch from created)::float8 as created, confirmed_at::text, needs_refresh
            from ${ctx.ref("verification_sessions")} v
          where (needs_refresh or status is null or status not in (${sql.join(terminalStatuses)}))
            and (${after}::text is null or session_id > ${after}) ${filterSql(filter)}
          order by session_id
          limit ${limit}`.execute(ctx.db),
      ),
      (result) =>
        result.rows.map((r) => ({
          sessionId: r.session_id,
          created: r.created === null ? null : Number(r.created),
          confirmedAt: r.confirmed_at === null ? null : Number(r.confirmed_at),
          needsRefresh: r.needs_refresh,
        })),
    )
  },
  createdBetween: ({ from, to, after = null, limit, ...filter }) => {
    const bad = checkFilter(filter)
    if (bad !== undefined) return Effect.fail(bad)
    if (!isSeconds(from)) return invalid("from", `from must be unix seconds, got ${String(from)}`)
    if (to !== null && !isSeconds(to))
      return invalid("to", `to must be unix seconds or null, got ${String(to)}`)
    if (to !== null && to < from) return invalid("to", `to (${to}) is before from (${from})`)
    if (after !== null && (typeof after?.id !== "string" || !isSeconds(after.created)))
      return invalid("after", "after must be a session of the previous page ({ id, created }) or null")
    if (!isPageSize(limit)) return badLimit(limit)
    return Effect.map(
      query("sessions.createdBetween", () =>
        // The created index read backwards from the page's upper bound: the previous page's last
        // session (one row comparison), else the window's end. Only the bound that applies is
        // written: given both, the scan started from the looser one, and a first page walked down
        // every newer session (a sweep's windows go newest first: ~150 ms a page at 500,000).
        sql<{ session_id: string; created_seconds: number }>`
          select v.session_id, extract(epoch from v.created)::float8 as created_seconds
            from ${ctx.ref("verification_sessions")} v
           where v.created >= to_timestamp(${from}::float8) ${
             // A previous page's session above the window (not a sweep's) bounds nothing more.
             after !== null && (to === null || after.created <= to)
               ? sql`and (v.created, v.session_id) < (to_timestamp(${after.created}::float8), ${after.id}::text)`
               : to !== null
                 ? sql`and v.created <= to_timestamp(${to}::float8)`
                 : sql``
           } ${filterSql(filter)}
           order by v.created desc, v.session_id desc
           limit ${limit}`.execute(ctx.db),
      ),
      (result) => result.rows.map((r) => ({ id: r.session_id, created: Number(r.created_seconds) })),
    )
  },
})
