/**
 * `@idtrail/reconciler`: the scheduled job that compares the local session projection with
 * Stripe's API and repairs drift with ordinary domain events.
 *
 * @since 0.1.0
 */
export { InvalidConfig, RunInProgress, StripeReadFailed } from "./errors.ts"
export { RateLimiter } from "./rate-limiter.ts"
export { type ReconcileOptions, reconcile } from "./reconcile.ts"
export { type Progress, type Repair, type Report, renderReport } from "./report.ts"
export {
  apiVersion,
  type ChangeEvent,
  type Observation,
  type Page,
  type StripeApi,
  type StripeApiOptions,
  stripeApi,
} from "./stripe-api.ts"
