/**
 * One active run per account: a lease row taken by an upsert that succeeds only when the row is
 * free or its lease ran out (a crashed run's lease expires), renewed after every page. It needs no
 * connection held open, so it works the same on PGlite.
 *
 * @since 0.1.0
 */
import { sql } from "kysely"
import { RunInProgress } from "./errors.ts"
import { type RunStateTarget, table } from "./tables.ts"

/** Takes the account's lease for `leaseSeconds`, or fails with `RunInProgress`. */
export const acquireLease = async (
  t: RunStateTarget,
  account: string,
  runId: string,
  leaseSeconds: number,
): Promise<void> => {
  const taken = await sql<{ run_id: string }>`
    insert into ${table(t, "reconciler_leases")} as l (account, run_id, lease_until)
    values (${account}, ${runId}, now() + make_interval(secs => ${leaseSeconds}))
    on conflict (account) do update set run_id = excluded.run_id, lease_until = excluded.lease_until
      where l.lease_until < now() or l.run_id = excluded.run_id
    returning run_id`.execute(t.db)
  if (taken.rows[0]?.run_id !== runId) {
    const holder = await sql<{ run_id: string; lease_until: Date }>`
      select run_id, lease_until from ${table(t, "reconciler_leases")} where account = ${account}`.execute(
      t.db,
    )
    const row = holder.rows[0]
    throw new RunInProgress({
      account,
      message:
        `another reconciliation of account ${account} is running (run ${row?.run_id ?? "?"}, ` +
        `lease until ${row?.lease_until instanceof Date ? row.lease_until.toISOString() : String(row?.lease_until)}); ` +
        "one run per account at a time",
    })
  }
}

/** Extends the lease; fails with `RunInProgress` if it ran out and another run took it. */
export const renewLease = async (
  t: RunStateTarget,
  account: string,
  runId: string,
  leaseSeconds: number,
): Promise<void> => {
  const renewed = await sql`
    update ${table(t, "reconciler_leases")} set lease_until = now() + make_interval(secs => ${leaseSeconds})
    where account = ${account} and run_id = ${runId}`.execute(t.db)
  if (Number(renewed.numAffectedRows ?? 0) !== 1) {
    throw new RunInProgress({
      account,
      message: `run ${runId} lost the lease of account ${account} to another run; it stops here`,
    })
  }
}

export const releaseLease = async (t: RunStateTarget, account: string, runId: string): Promise<void> => {
  await sql`delete from ${table(t, "reconciler_leases")} where account = ${account} and run_id = ${runId}`.execute(
    t.db,
  )
}
