/**
 * The vocabulary of the observation rules: what a rule sees (`Observation`), what it answers
 * (`Verdict`) and its shape (`ObservationRule`). The rules themselves are in `rules.ts`, the
 * interpreter that runs them in `observe.ts`.
 *
 * @since 0.1.0
 */
import type { DecideError } from "./errors.ts"
import type { SessionEvent, Source } from "./events.ts"
import type { SessionFacts } from "./facts.ts"
import type { SessionState } from "./state.ts"

/** One observation as the rules see it, with the events the earlier rules decided. */
export interface Observation {
  readonly sessionId: string
  /** The account the observation was seen through (`"default"` when it named none). */
  readonly account: string
  readonly source: Source
  readonly stripeEventType: string | null
  /** Stripe's time of the snapshot (unix seconds). */
  readonly at: number
  /** `api` and `reconciler` reads describe the present; webhooks a past moment. */
  readonly authoritative: boolean
  /** The snapshot's facts, secret-shaped merchant values masked. */
  readonly remote: SessionFacts
  /** The paths masked in `remote`. */
  readonly masked: ReadonlyArray<string>
  /** Names of the verified outputs the snapshot carries with a real value. */
  readonly outputs: ReadonlyArray<string>
  /** The stream's state before this observation. */
  readonly before: SessionState
  /**
   * The facts before this observation. Only the first-knowledge rule runs while there are none;
   * it stops the run, so every later rule sees known facts (the snapshot's own stand in before).
   */
  readonly local: SessionFacts
  /** The state after the events decided so far. */
  readonly state: SessionState
  /** The facts after the events decided so far. */
  readonly current: SessionFacts
  /** The events decided so far, in order. */
  readonly events: ReadonlyArray<SessionEvent>
}

/**
 * A rule's answer: record these events and let the next rule look (`Continue`, no events when
 * the rule does not apply), record them and decide nothing more (`Stop`), or refuse the
 * observation (`Refuse`).
 */
export type Verdict =
  | { readonly _tag: "Continue"; readonly events: ReadonlyArray<SessionEvent> }
  | { readonly _tag: "Stop"; readonly events: ReadonlyArray<SessionEvent> }
  | { readonly _tag: "Refuse"; readonly error: DecideError }

/** The rule does not apply, or applies and emits `events`; the next rule looks either way. */
export const proceed = (...events: ReadonlyArray<SessionEvent>): Verdict => ({ _tag: "Continue", events })

/** The rule settles the observation with `events` (none: the observation changes nothing). */
export const stop = (...events: ReadonlyArray<SessionEvent>): Verdict => ({ _tag: "Stop", events })

/** The observation is refused. */
export const refuse = (error: DecideError): Verdict => ({ _tag: "Refuse", error })

/** A named rule of how an observation is decided; the README's rule table uses the same names. */
export interface ObservationRule<Name extends string = string> {
  readonly name: Name
  readonly decide: (observation: Observation) => Verdict
}

/** Names a rule. */
export const rule = <const Name extends string>(
  name: Name,
  decide: (observation: Observation) => Verdict,
): ObservationRule<Name> => ({ name, decide })
