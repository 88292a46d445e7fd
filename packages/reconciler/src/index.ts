/**
 * `@idtrail/reconciler`: the scheduled job that compares the local session projection with
 * Stripe's API and repairs drift with ordinary domain events. `reconcileEffect` is the program
 * over the `EventStore` and `StripeApi` services; `reconcile` runs it for Promise code.
 *
 * @since 0.1.0
 */

export {
  type AccountsSpec,
  isConnected,
  type ListAccountsOptions,
  listConnectedAccounts,
  parseAccounts,
  resolveAccounts,
} from "./accounts.ts"
export {
  InvalidConfig,
  RunInProgress,
  StripeAuthRefused,
  type StripeError,
  StripeReadFailed,
} from "./errors.ts"
export { exitCodeOf, exitCodes } from "./exit-codes.ts"
export {
  type PoolError,
  PoolIncomplete,
  type PoolOptions,
  type PoolReport,
  poolName,
  runPool,
} from "./pool.ts"
export { type Limit, makeSharedLimit, postgresRateLimiterStore } from "./postgres-limit.ts"
export { type ReconcileError, type ReconcileOptions, reconcile, reconcileEffect } from "./reconcile.ts"
export { type Progress, type Quarantined, type Repair, type Report, renderReport } from "./report.ts"
export {
  apiVersion,
  type ChangeEvent,
  makeStripeApi,
  type Observation,
  type Page,
  StripeApi,
  type StripeApiOptions,
  type StripeApiService,
  stripeApi,
} from "./stripe-api.ts"
