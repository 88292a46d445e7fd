/**
 * Deriving a Promise API from an Effect service, mechanically: every operation returning an
 * Effect becomes one returning a Promise that rejects with the typed error itself, one returning
 * a Stream becomes one returning an `AsyncIterable`, nested groups of operations are derived the
 * same way, and plain values are kept. So an operation is written once, in the service.
 *
 * @since 0.1.0
 */
import { Effect, Stream } from "effect"

/** The Promise form of a service: see the module's description. */
export type Promised<S> = {
  readonly [K in keyof S]: S[K] extends (...args: infer P) => Effect.Effect<infer A, infer _E, infer _R>
    ? (...args: P) => Promise<A>
    : S[K] extends (...args: infer P) => Stream.Stream<infer A, infer _E, infer _R>
      ? (...args: P) => AsyncIterable<A>
      : S[K] extends (...args: ReadonlyArray<never>) => unknown
        ? S[K]
        : S[K] extends Date | ReadonlyArray<unknown>
          ? S[K]
          : S[K] extends object
            ? Promised<S[K]>
            : S[K]
}

/** Runs an Effect as a Promise that rejects with the failure itself (a tagged error), as Effect 4's `runPromise` does. */
export type Runner = <A, E>(effect: Effect.Effect<A, E>) => Promise<A>

const promiseFormKey = Symbol.for("@idtrail/store/promiseForm")

/**
 * Gives an operation the Promise form the facade calls instead of running its Effect: for a hot
 * path whose Effect only wraps that Promise (same checks, same results, same typed rejections).
 */
export const withPromiseForm = <P extends ReadonlyArray<unknown>, A, E>(
  operation: (...args: P) => Effect.Effect<A, E>,
  promiseForm: (...args: P) => Promise<A>,
): ((...args: P) => Effect.Effect<A, E>) => Object.assign(operation, { [promiseFormKey]: promiseForm })

const isGroup = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype

const derive = (value: unknown, run: Runner): unknown => {
  if (typeof value === "function") {
    const promiseForm = (value as { [promiseFormKey]?: unknown })[promiseFormKey]
    if (typeof promiseForm === "function") return promiseForm
    return (...args: ReadonlyArray<unknown>) => {
      const out = (value as (...a: ReadonlyArray<unknown>) => unknown)(...args)
      if (Stream.isStream(out)) return Stream.toAsyncIterable(out as Stream.Stream<unknown, unknown>)
      if (Effect.isEffect(out)) return run(out as Effect.Effect<unknown, unknown>)
      return out
    }
  }
  return isGroup(value) ? promised(value, run) : value
}

/** The Promise form of `service`, every Effect run by `run`. */
export const promised = <S extends object>(service: S, run: Runner): Promised<S> =>
  Object.fromEntries(Object.entries(service).map(([key, value]) => [key, derive(value, run)])) as Promised<S>
