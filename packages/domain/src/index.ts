/**
 * `@idtrail/domain`: the Stripe Identity VerificationSession, its lifecycle as events, and a
 * pure decider. No I/O, no clock, no randomness.
 *
 * @since 0.1.0
 */
export * from "./account.ts"
export * from "./commands.ts"
export { confirm, type Decided, type Decision, decide, decideAndFold } from "./decide.ts"
export { decider } from "./decider.ts"
export * from "./errors.ts"
export * from "./events.ts"
export * from "./facts.ts"
export * from "./lifecycle.ts"
export type { Observation, ObservationRule, Verdict } from "./observation.ts"
export * from "./personal.ts"
export { type ObservationRuleName, observationRules } from "./rules.ts"
export * from "./secrets.ts"
export * from "./session.ts"
export * from "./state.ts"
export * from "./steps.ts"
export * from "./stripe-event.ts"
export * from "./vault.ts"
