/**
 * The decider: `initialState`, `decide`, `evolve`, bundled the way event-sourcing libraries
 * expect them.
 *
 * @since 0.1.0
 */
import { decide } from "./decide.ts"
import { evolve, initialState } from "./state.ts"

export const decider = { initialState, decide, evolve } as const
