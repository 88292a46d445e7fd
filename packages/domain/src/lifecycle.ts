/**
 * The lifecycle of a VerificationSession as data: the transition table and the action rules of
 * the fact sheet (§2.2, §2.3). The decider, the store, the reconciler, the simulator's reference
 * tests and the generated diagram all read these tables; nobody re-types them.
 *
 * @since 0.1.0
 */
import type { KnownSessionStatus } from "./session.ts"

/** One edge of the lifecycle, with what triggers it at Stripe and the webhook it emits. */
export interface Transition {
  readonly from: KnownSessionStatus | null
  readonly to: KnownSessionStatus
  readonly trigger: "create" | "submit" | "checks_pass" | "check_failed" | "cancel" | "redact"
  readonly webhook: string
}

export const transitions: ReadonlyArray<Transition> = [
  { from: null, to: "requires_input", trigger: "create", webhook: "identity.verification_session.created" },
  {
    from: "requires_input",
    to: "processing",
    trigger: "submit",
    webhook: "identity.verification_session.processing",
  },
  {
    from: "processing",
    to: "verified",
    trigger: "checks_pass",
    webhook: "identity.verification_session.verified",
  },
  {
    from: "processing",
    to: "requires_input",
    trigger: "check_failed",
    webhook: "identity.verification_session.requires_input",
  },
  {
    from: "requires_input",
    to: "canceled",
    trigger: "cancel",
    webhook: "identity.verification_session.canceled",
  },
  {
    from: "requires_input",
    to: "canceled",
    trigger: "redact",
    webhook: "identity.verification_session.canceled",
  },
]

/** Statuses with no outgoing status transition. Redaction can still happen on them. */
export const terminalStatuses: ReadonlyArray<KnownSessionStatus> = ["verified", "canceled"]

export const isTerminal = (status: string): boolean =>
  (terminalStatuses as ReadonlyArray<string>).includes(status)

/** Local intents and the statuses Stripe accepts them from. */
export type Action = "cancel" | "redact" | "update"

export const actionRules: Readonly<Record<Action, ReadonlyArray<KnownSessionStatus>>> = {
  cancel: ["requires_input"],
  redact: ["requires_input", "verified"],
  update: ["requires_input"],
}

export const isActionAllowed = (action: Action, status: string): boolean =>
  (actionRules[action] as ReadonlyArray<string>).includes(status)

/**
 * The shortest legal sequence of statuses leading from `from` to `to` (excluding `from`), or
 * `undefined` when `to` cannot be reached. `[]` when they are equal.
 */
export const pathBetween = (from: string, to: string): ReadonlyArray<KnownSessionStatus> | undefined => {
  if (from === to) return []
  // Breadth-first over a six-edge graph: the first time we reach `to` is a shortest path.
  const parent = new Map<string, string>()
  const queue: Array<string> = [from]
  for (let head = queue.shift(); head !== undefined; head = queue.shift()) {
    for (const t of transitions) {
      if (t.from !== head || t.to === from || parent.has(t.to)) continue
      parent.set(t.to, head)
      if (t.to === to) {
        const path: Array<KnownSessionStatus> = []
        for (let s: string | undefined = to; s !== undefined && s !== from; s = parent.get(s)) {
          path.unshift(s as KnownSessionStatus)
        }
        return path
      }
      queue.push(t.to)
    }
  }
  return undefined
}

/** A Mermaid state diagram generated from {@link transitions}, for the docs. */
export const lifecycleDiagram = (): string => {
  const lines = ["stateDiagram-v2"]
  for (const t of transitions) {
    lines.push(`  ${t.from ?? "[*]"} --> ${t.to}: ${t.trigger}`)
  }
  for (const s of terminalStatuses) lines.push(`  ${s} --> [*]`)
  return lines.join("\n")
}
