import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { EventMetadata, isExactMetadata } from "../src/metadata.ts"

const decode = Schema.decodeUnknownResult(EventMetadata)

/** Metadata as callers write it: mostly valid, sometimes with a wrong type, a missing or an extra key. */
const anyValue = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(2 ** 60),
)
const metadataLike = fc
  .record({
    source: fc.oneof(fc.constantFrom("webhook", "api", "reconciler", "local"), anyValue),
    stripeEventId: fc.oneof(fc.constant(null), fc.string(), anyValue),
    stripeEventType: fc.oneof(fc.constant(null), fc.string(), anyValue),
    observedAt: fc.oneof(fc.constant(null), fc.integer(), anyValue),
    causationId: fc.oneof(fc.constant(null), fc.string(), anyValue),
    correlationId: fc.oneof(fc.constant(null), fc.string(), anyValue),
    actor: fc.oneof(
      fc.record({
        kind: fc.oneof(fc.constantFrom("service", "user", "reconciler"), anyValue),
        id: fc.string(),
      }),
      fc.record({ kind: fc.constant("user"), id: fc.string(), extra: fc.string() }),
      anyValue,
    ),
  })
  .chain((m) =>
    fc.oneof(
      fc.constant<Record<string, unknown>>(m),
      fc.constantFrom(...Object.keys(m)).map((k): Record<string, unknown> => {
        const { [k]: _, ...rest } = m as Record<string, unknown>
        return rest
      }),
      fc.string().map((k): Record<string, unknown> => ({ ...m, [k]: "extra" })),
      // With the account and mode, as handle writes them (or of the wrong type).
      fc
        .record({ account: fc.oneof(fc.string(), anyValue), livemode: fc.oneof(fc.boolean(), anyValue) })
        .map((extra): Record<string, unknown> => ({ ...m, ...extra })),
    ),
  )

describe("the appends' fast metadata check", () => {
  test.prop([metadataLike], { numRuns: 2000 })(
    "accepts only what EventMetadata decodes, and stores exactly the JSON the decoder would",
    (m) => {
      if (isExactMetadata(m)) {
        const decoded = decode(m)
        expect(Result.isSuccess(decoded)).toBe(true)
        if (Result.isSuccess(decoded)) expect(JSON.stringify(m)).toBe(JSON.stringify(decoded.success))
      }
    },
  )

  test.prop([metadataLike.filter((m) => Result.isSuccess(decode(m)))], { numRuns: 300 })(
    "takes the common case: valid metadata with exactly the schema's keys passes",
    (m) => {
      const keys = Object.keys(m).length
      const exact =
        (keys === 7 || (keys === 9 && typeof m.account === "string" && typeof m.livemode === "boolean")) &&
        typeof m.actor === "object" &&
        m.actor !== null &&
        Object.keys(m.actor as object).length === 2 &&
        (m.observedAt === null || Number.isSafeInteger(m.observedAt))
      expect(isExactMetadata(m)).toBe(exact)
    },
  )
})
