/**
 * The opt-in vault, from the reconciler's side: when a team turns it on (`--vault-retention`), a
 * session a run sees `verified` whose outputs were never kept is read once more from Stripe with
 * `verified_outputs` and `provided_details` expanded, and its values go to the store's vault
 * (`store.vault.keep`), encrypted under the session's key, for the retention period. At the end
 * of every run that writes, values past their retention are deleted (`store.vault.expire`).
 *
 * - Once per session: a session whose log records `VerifiedOutputsVaulted` is not read again,
 *   even after its retention ended (asking again would keep it for ever), nor one an operator
 *   erased (`SessionErased`); one query per page asks the log (`audit.histories`).
 * - Never for a redacted session (as Stripe listed it, or as it answered the expanded read).
 * - The expanded answer goes to `keep` only: it is never observed into the log, and no error
 *   message quotes it. The read goes through the run's rate limit and retries.
 * - A dry run reads nothing expanded and keeps nothing.
 *
 * @since 0.1.0
 */
import { isRedacted, type VerificationSession } from "@idtrail/domain"
import { Context, Duration, Effect, Metric, Result } from "effect"
import { StripeAuthRefused } from "./errors.ts"
import type { Run } from "./run.ts"
import type { Observation } from "./stripe-api.ts"

/** How a run uses the vault (`ReconcileOptions.vault`). */
export interface VaultOptions {
  /** How long kept values stay (1 second to 10 years): `"30 days"`, an Effect `Duration`. */
  readonly retention: Duration.Input
  /** The time of keeping and of expiring (default: the system clock); tests move it. */
  readonly now?: (() => Date) | undefined
}

/** What a run did with the vault: the report's `vault`. */
export interface VaultSummary {
  /** The retention given to values kept by this run. */
  readonly retention: string
  /** Sessions read again from Stripe with their outputs expanded (one request each, retries aside). */
  readonly vaulted: number
  /** Of those, the sessions whose values were kept. */
  readonly kept: number
  /**
   * Of those, the sessions nothing was kept for: redacted or no longer verified by the time of
   * the read, erased meanwhile, or with no output at all.
   */
  readonly notKept: number
  /** Vault rows past their retention deleted at the end of the run (null: not run — a dry or stopped run). */
  readonly expired: number | null
}

/** The longest retention the store accepts. */
export const maxRetention = Duration.days(3653)

/** A retention the store accepts (1 second to 10 years), or the reason it does not. */
export const checkRetention = (input: Duration.Input): Result.Result<Duration.Duration, string> => {
  const d = Duration.fromInput(input)
  return d._tag === "Some" &&
    Duration.isFinite(d.value) &&
    Duration.toMillis(d.value) >= 1000 &&
    !Duration.isGreaterThan(d.value, maxRetention)
    ? Result.succeed(d.value)
    : Result.fail(`a vault retention is from 1 second to 10 years, got ${String(input)}`)
}

/** A run's vault: its settings and what it counted. */
export class Vaulting {
  vaulted = 0
  kept = 0
  notKept = 0
  expired: number | null = null
  readonly retention: Duration.Duration
  readonly now: () => Date
  /** The run's metric attributes (`account`, `mode`, `dry_run`). */
  readonly attributes: Readonly<Record<string, string>>
  constructor(retention: Duration.Duration, now: () => Date, attributes: Readonly<Record<string, string>>) {
    this.retention = retention
    this.now = now
    this.attributes = attributes
  }
  summary(): VaultSummary {
    return {
      retention: Duration.format(this.retention),
      vaulted: this.vaulted,
      kept: this.kept,
      notKept: this.notKept,
      expired: this.expired,
    }
  }
}

/** The run's vault; `undefined` (the default): the vault is off and nothing is read expanded. */
export const CurrentVaulting = Context.Reference<Vaulting | undefined>("@idtrail/reconciler/Vaulting", {
  defaultValue: () => undefined,
})

/** Expanded reads, for telemetry (with the run's `account`, `mode`, `dry_run`, like the other metrics). */
export const vaultedMetric = Metric.counter("idtrail.reconciler.sessions.vaulted", {
  description: "Sessions read again from Stripe with verified outputs expanded, to keep them in the vault",
  incremental: true,
})

/** A session Stripe shows verified, with personal data still there. */
const worthKeeping = (session: VerificationSession) =>
  session.status === "verified" && !isRedacted(session.redaction?.status ?? null)

/** Of `sessionIds`, those whose log says their values were kept once, or that an operator erased. */
const settled = (run: Run, sessionIds: ReadonlyArray<string>) =>
  Effect.map(
    sessionIds.length === 0 ? Effect.succeed([]) : run.store.audit.histories(sessionIds),
    (events) =>
      new Set(
        events
          .filter((e) => e.event._tag === "VerifiedOutputsVaulted" || e.event._tag === "SessionErased")
          .map((e) => e.streamId),
      ),
  )

/** A refused key says what the vault needs of it (the read of outputs is the only new permission). */
const refusedForOutputs = (sessionId: string) => (error: StripeAuthRefused) =>
  new StripeAuthRefused({
    status: error.status,
    message:
      `Stripe refused the API key (HTTP ${error.status}) to read ${sessionId} with its verified outputs ` +
      "for the vault: the key needs read access to Identity verification sessions with their verified " +
      "outputs (see the reconciler README's Vault section), or leave --vault-retention out",
  })

/** Reads one session expanded and keeps its values; counts what happened. */
const keepOne = (run: Run, vaulting: Vaulting, sessionId: string) =>
  Effect.gen(function* () {
    vaulting.vaulted++
    yield* Metric.update(Metric.withAttributes(vaultedMetric, vaulting.attributes), 1)
    const { session }: Observation = yield* run.stripe
      .retrieveWithOutputs(sessionId)
      .pipe(Effect.catchTag("StripeAuthRefused", (e) => Effect.fail(refusedForOutputs(sessionId)(e))))
    if (!worthKeeping(session)) {
      vaulting.notKept++
      return
    }
    const kept = yield* run.store.vault.keep(
      sessionId,
      {
        verifiedOutputs: session.verified_outputs ?? null,
        providedDetails: session.provided_details ?? null,
      },
      {
        actor: { kind: "reconciler", id: run.runId },
        retention: vaulting.retention,
        now: vaulting.now(),
        correlationId: run.runId,
      },
    )
    if (kept._tag === "Kept") vaulting.kept++
    else vaulting.notKept++
  })

/**
 * After a page was recorded: keeps the values of its verified sessions not kept yet, `concurrency`
 * at a time. Returns each session whose read or keep failed, with its error, for the caller to
 * count and quarantine (a refused key among them ends the run there). Nothing when the vault is
 * off or the run is dry.
 */
export const keepVerifiedOutputs = (
  run: Run,
  observations: ReadonlyArray<Observation>,
  concurrency: number,
) =>
  Effect.gen(function* () {
    const vaulting = yield* CurrentVaulting
    if (vaulting === undefined || run.dryRun) return []
    const candidates = observations.filter((o) => worthKeeping(o.session)).map((o) => o.session.id)
    const done = yield* settled(run, candidates)
    const results = yield* Effect.forEach(
      candidates.filter((id) => !done.has(id)),
      (id) => Effect.map(Effect.result(keepOne(run, vaulting, id)), (result) => ({ id, result })),
      { concurrency },
    )
    return results.flatMap(({ id, result }) =>
      Result.isFailure(result) ? [{ sessionId: id, error: result.failure }] : [],
    )
  })

/** {@link keepVerifiedOutputs} for one session, failing with its error. */
export const keepVerifiedOutput = (run: Run, observation: Observation) =>
  Effect.flatMap(keepVerifiedOutputs(run, [observation], 1), (failures) =>
    failures.length === 0 ? Effect.void : Effect.fail(failures[0]!.error),
  )

/** At the end of a run that writes: deletes the values past their retention, and counts them. */
export const expireVault = (run: Run) =>
  Effect.gen(function* () {
    const vaulting = yield* CurrentVaulting
    if (vaulting === undefined || run.dryRun) return
    vaulting.expired = yield* run.store.vault.expire(vaulting.now())
  })

const plural = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString("en")} ${n === 1 ? one : many}`

/** The report's vault line, for a person. */
export const renderVault = (v: VaultSummary): string =>
  `  vault (retention ${v.retention}): ${plural(v.vaulted, "session")} read with verified outputs, ` +
  `${v.kept.toLocaleString("en")} kept, ${v.notKept.toLocaleString("en")} not (redacted, erased or without outputs); ` +
  (v.expired === null ? "expiry not run" : `${plural(v.expired, "value")} past retention deleted`)
