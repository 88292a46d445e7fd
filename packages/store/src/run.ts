/**
 * Running an Effect as a Promise that rejects with the typed error itself (not a wrapper), for
 * store code that is a Promise at its core (the append's hot path).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

/** Runs `effect`; resolves with its value or rejects with its failure (a tagged error). */
export const runToPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
