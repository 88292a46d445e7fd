/**
 * What a pool of reconciler workers shares through Postgres (migration `0015_reconciler_pool`):
 * rounds of a pool's accounts, claims of an account for one run (its lease in
 * `reconciler_leases`), and token buckets that every process draws its Stripe requests from.
 *
 * A claim is the account's ordinary lease, taken in one transaction with the account's row of the
 * round locked (`FOR UPDATE SKIP LOCKED`, so workers pass each other instead of queueing), and only
 * when the lease is free or expired: a crashed worker's account is claimed again once its lease
 * runs out. An account is done in a round once the run holding its latest claim is recorded
 * (`reconciler_runs`, written before that run gives its lease up) or marked done.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { sql } from "kysely"
import type { StoreContext } from "./context.ts"
import type { DatabaseError } from "./errors.ts"
import { query } from "./sql-errors.ts"

/** Where a round stands. */
export interface RoundStatus {
  readonly pool: string
  readonly round: number
  /** Every account of the round. */
  readonly accounts: number
  /** Accounts done in the round. */
  readonly done: number
  /** Of those, the ones whose run ended incomplete. */
  readonly incomplete: ReadonlyArray<string>
  /** Accounts not done whose lease another run holds now. */
  readonly held: number
}

/** The pool's operations, bound to one store. */
export interface PoolState {
  /**
   * Joins the pool's open round (or opens the next one) and adds `accounts` to it; returns the
   * round's number. Processes started together join one round.
   */
  readonly joinRound: (pool: string, accounts: ReadonlyArray<string>) => Effect.Effect<number, DatabaseError>
  /**
   * Claims an account of the round not yet done and whose lease is free or expired: takes its lease
   * for `runId` (`leaseSeconds`) and returns it, or `null` when no account can be claimed now.
   */
  readonly claimAccount: (
    pool: string,
    round: number,
    runId: string,
    leaseSeconds: number,
  ) => Effect.Effect<string | null, DatabaseError>
  /** Marks the account done in the round, if `runId` still holds its claim. */
  readonly finishAccount: (
    pool: string,
    round: number,
    account: string,
    runId: string,
    complete: boolean,
  ) => Effect.Effect<void, DatabaseError>
  readonly roundStatus: (pool: string, round: number) => Effect.Effect<RoundStatus, DatabaseError>
  /** Closes the round if every account in it is done; `true` when it is closed. */
  readonly finishRound: (pool: string, round: number) => Effect.Effect<boolean, DatabaseError>
  /**
   * Effect's `RateLimiterStore.tokenBucket` on a row of `reconciler_rate_buckets`, on the
   * database's clock: the count after taking `tokens`, and the milliseconds since the current
   * refill interval began.
   */
  readonly takeTokens: (options: {
    readonly key: string
    readonly tokens: number
    readonly limit: number
    readonly refillMillis: number
    readonly allowOverflow: boolean
  }) => Effect.Effect<readonly [remaining: number, elapsedMillis: number], DatabaseError>
}

// A run that stopped because it lost its lease or was interrupted did not reconcile its account:
// the round gives the account to the next claim.
const endedRun = (ctx: StoreContext) => sql`
  exists (select 1 from ${ctx.ref("reconciler_runs")} r where r.run_id = ra.run_id
    and (r.stopped_by is null or r.stopped_by not in ('interrupted', 'RunInProgress')))`

export const poolState = (ctx: StoreContext): PoolState => ({
  joinRound: (pool, accounts) =>
    query("pool.joinRound", async () => {
      // The open round's unique index makes a racing opener's insert do nothing.
      await sql`
        insert into ${ctx.ref("reconciler_rounds")} (pool, round)
        select ${pool}, coalesce(max(round), 0) + 1 from ${ctx.ref("reconciler_rounds")} where pool = ${pool}
        having count(*) filter (where finished_at is null) = 0
        on conflict do nothing`.execute(ctx.db)
      const open = await sql<{ round: string }>`
        select round::text from ${ctx.ref("reconciler_rounds")} where pool = ${pool} and finished_at is null`.execute(
        ctx.db,
      )
      const round = open.rows[0]?.round
      if (round === undefined) throw new Error(`pool ${pool}: its round was closed while joining; try again`)
      await sql`
        insert into ${ctx.ref("reconciler_round_accounts")} (pool, round, account)
        select ${pool}, ${round}::bigint, a from unnest(${[...accounts]}::text[]) as a
        on conflict do nothing`.execute(ctx.db)
      return Number(round)
    }),
  claimAccount: (pool, round, runId, leaseSeconds) =>
    query("pool.claimAccount", () =>
      ctx.db.transaction().execute(async (tx) => {
        const candidates = await sql<{ account: string }>`
          select ra.account from ${ctx.ref("reconciler_round_accounts")} ra
          left join ${ctx.ref("reconciler_leases")} l on l.account = ra.account
          where ra.pool = ${pool} and ra.round = ${round} and ra.done_at is null and not ${endedRun(ctx)}
            and (l.account is null or l.lease_until < now())
          order by ra.claims, ra.account
          limit 1
          for update of ra skip locked`.execute(tx)
        const account = candidates.rows[0]?.account
        if (account === undefined) return null
        // The lease decides: another run may have taken it since the read above.
        const taken = await sql<{ run_id: string }>`
          insert into ${ctx.ref("reconciler_leases")} as l (account, run_id, lease_until)
          values (${account}, ${runId}, now() + make_interval(secs => ${leaseSeconds}))
          on conflict (account) do update set run_id = excluded.run_id, lease_until = excluded.lease_until
            where l.lease_until < now()
          returning run_id`.execute(tx)
        if (taken.rows[0]?.run_id !== runId) return null
        await sql`
          update ${ctx.ref("reconciler_round_accounts")} set run_id = ${runId}, claims = claims + 1
          where pool = ${pool} and round = ${round} and account = ${account}`.execute(tx)
        return account
      }),
    ),
  finishAccount: (pool, round, account, runId, complete) =>
    Effect.asVoid(
      query("pool.finishAccount", () =>
        sql`
          update ${ctx.ref("reconciler_round_accounts")} set done_at = now(), complete = ${complete}
          where pool = ${pool} and round = ${round} and account = ${account} and run_id = ${runId}
            and done_at is null`.execute(ctx.db),
      ),
    ),
  roundStatus: (pool, round) =>
    Effect.map(
      query("pool.roundStatus", () =>
        sql<{ account: string; done: boolean; complete: boolean | null; held: boolean }>`
          select ra.account,
            (ra.done_at is not null or ${endedRun(ctx)}) as done,
            coalesce(ra.complete, (select r.complete from ${ctx.ref("reconciler_runs")} r where r.run_id = ra.run_id)) as complete,
            exists (select 1 from ${ctx.ref("reconciler_leases")} l where l.account = ra.account and l.lease_until >= now()) as held
          from ${ctx.ref("reconciler_round_accounts")} ra
          where ra.pool = ${pool} and ra.round = ${round}
          order by ra.account`.execute(ctx.db),
      ),
      ({ rows }) => ({
        pool,
        round,
        accounts: rows.length,
        done: rows.filter((r) => r.done).length,
        incomplete: rows.filter((r) => r.done && r.complete !== true).map((r) => r.account),
        held: rows.filter((r) => !r.done && r.held).length,
      }),
    ),
  finishRound: (pool, round) =>
    Effect.map(
      query("pool.finishRound", () =>
        sql<{ closed: boolean }>`
          with closing as (
            update ${ctx.ref("reconciler_rounds")} set finished_at = now()
            where pool = ${pool} and round = ${round} and finished_at is null
              and not exists (
                select 1 from ${ctx.ref("reconciler_round_accounts")} ra
                where ra.pool = ${pool} and ra.round = ${round} and ra.done_at is null and not ${endedRun(ctx)})
            returning 1)
          select exists (select 1 from closing) or exists (
            select 1 from ${ctx.ref("reconciler_rounds")}
            where pool = ${pool} and round = ${round} and finished_at is not null) as closed`.execute(ctx.db),
      ),
      ({ rows }) => rows[0]?.closed === true,
    ),
  takeTokens: ({ key, tokens, limit, refillMillis, allowOverflow }) =>
    Effect.map(
      query("pool.takeTokens", () =>
        ctx.db.transaction().execute(async (tx) => {
          // A bucket's state is worth no disk flush: a turn lost in a crash costs one request's spacing.
          await sql`set local synchronous_commit = off`.execute(tx)
          return sql<{ remaining: number; elapsed_ms: number }>`
            select remaining, elapsed_ms from ${ctx.ref("reconciler_take_tokens")}(
              ${key}, ${tokens}::float8, ${limit}::float8, ${refillMillis}::float8, ${allowOverflow})`.execute(
            tx,
          )
        }),
      ),
      ({ rows }) => [Number(rows[0]!.remaining), Number(rows[0]!.elapsed_ms)] as const,
    ),
})
