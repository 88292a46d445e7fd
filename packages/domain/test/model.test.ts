/**
 * Law 8, model-based: random sequences of local requests and Stripe-side moves, checked against
 * the reference model of Stripe's rules in `support/stripe-model.ts` (written from the fact sheet,
 * not from the domain's lifecycle table).
 */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect } from "vitest"
import {
  decide,
  fold,
  initialState,
  type SessionCommand,
  type SessionState,
  type VerificationSession,
} from "../src/index.ts"
import { applyMove, createdSession, type StripeMove, stripeAccepts } from "./support/stripe-model.ts"

const ID = "vs_model"

/** Stripe's side: the real session object and its clock. The model only tracks the status. */
interface World {
  stripe: VerificationSession
  local: SessionState
  clock: number
  moves: number
}

interface Model {
  status: string
  redacted: boolean
}

const apply = (world: World, command: SessionCommand) => {
  const decision = decide(command, world.local)
  if (Result.isSuccess(decision)) world.local = fold(decision.success, world.local)
  return decision
}

/** A local intent: the decider must allow exactly what Stripe would accept. */
class Request implements fc.Command<Model, World> {
  readonly kind: "cancel" | "redact" | "update"
  constructor(kind: "cancel" | "redact" | "update") {
    this.kind = kind
  }
  check = () => true
  run(model: Model, world: World) {
    world.clock += 1
    const base = { sessionId: ID, requestedAt: world.clock }
    const command: SessionCommand =
      this.kind === "cancel"
        ? { _tag: "RequestCancel", ...base }
        : this.kind === "redact"
          ? { _tag: "RequestRedact", ...base }
          : { _tag: "RequestUpdate", ...base, metadata: { step: String(world.clock) } }
    const allowed = stripeAccepts(this.kind, world.stripe)
    const decision = apply(world, command)
    if (!allowed) {
      expect(Result.isFailure(decision) && decision.failure._tag).toBe("TransitionNotAllowed")
      return
    }
    expect(Result.isSuccess(decision)).toBe(true)
    // Stripe accepts it; its answer comes back as an authoritative read.
    const move: StripeMove =
      this.kind === "update"
        ? { kind: "update", metadata: { step: String(world.clock) } }
        : { kind: this.kind }
    const next = applyMove(world.stripe, move, ++world.moves)!
    world.stripe = next.snapshot
    model.status = next.snapshot.status
    model.redacted = next.snapshot.redaction !== null
    const read = apply(world, {
      _tag: "Observe",
      session: world.stripe,
      source: "api",
      observedAt: world.clock,
    })
    expect(Result.isSuccess(read)).toBe(true)
    expect(world.local.facts?.status).toBe(model.status)
  }
  toString = () => `request ${this.kind}`
}

/** Stripe moves on its own (the user submits, checks pass or fail, redaction finishes). */
class StripeSide implements fc.Command<Model, World> {
  readonly move: StripeMove
  constructor(move: StripeMove) {
    this.move = move
  }
  check = (model: Model) =>
    this.move.kind === "submit"
      ? model.status === "requires_input" && !model.redacted
      : this.move.kind === "finishRedaction"
        ? model.redacted
        : model.status === "processing"
  run(model: Model, world: World) {
    const next = applyMove(world.stripe, this.move, ++world.moves)
    if (next === undefined) return // e.g. a redaction already finished
    world.clock += 1
    world.stripe = next.snapshot
    model.status = next.snapshot.status
    if (next.eventType !== null) {
      const seen = apply(world, {
        _tag: "Observe",
        session: world.stripe,
        source: "webhook",
        observedAt: world.clock,
      })
      expect(Result.isSuccess(seen)).toBe(true)
    }
    expect(world.local.facts?.status).toBe(model.status)
  }
  toString = () => `stripe ${this.move.kind}`
}

const commands = fc.commands(
  [
    fc.constantFrom("cancel", "redact", "update").map((kind) => new Request(kind)),
    fc
      .constantFrom<StripeMove>(
        { kind: "submit" },
        { kind: "pass" },
        { kind: "fail", code: "selfie_face_mismatch" },
        { kind: "finishRedaction" },
      )
      .map((move) => new StripeSide(move)),
  ],
  { maxCommands: 30 },
)

describe("law 8 (model-based)", () => {
  test.prop([commands], { numRuns: 300 })(
    "8. every request Stripe would accept succeeds and every forbidden one is TransitionNotAllowed",
    (cmds) => {
      const stripe = createdSession(ID, 1_700_000_000, {})
      const world: World = { stripe, local: initialState, clock: stripe.created, moves: 0 }
      apply(world, { _tag: "Observe", session: stripe, source: "webhook", observedAt: stripe.created })
      fc.modelRun(() => ({ model: { status: "requires_input", redacted: false }, real: world }), cmds)
    },
  )
})
