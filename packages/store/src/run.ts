/**
 * Running an Effect as a Promise that rejects with the typed error itself (not a wrapper), for
 * the Promise facade.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit } from "effect"

/** Runs `effect`; resolves with its value or rejects with its failure (a tagged error). */
export const runToPromise = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}
