/**
 * Event schema versions and upcasting. The log is append-only, so an event keeps the shape it was
 * written in forever; when an event type's shape changes, readers turn the older shapes into the
 * current one as they read (upcasting), one version step at a time, before decoding.
 *
 * The version lives in the stored JSON, under `_version`, beside `_tag`: an event's shape and its
 * version travel together (a dump of `data` stays self-describing), and the one-round-trip
 * append functions need no new parameter. An event without `_version` is at version 1, so every
 * event written before versions existed needs no rewrite. Writers add `_version` only for types
 * past version 1; the domain's decoder ignores the key.
 *
 * @since 0.1.0
 */
import { Result } from "effect"

/** The key of the stored JSON that holds the event's schema version (absent: version 1). */
export const versionKey = "_version"

/** Turns one version's JSON into the next version's. Pure; it may throw on a shape it cannot read. */
export type Upcaster = (data: Readonly<Record<string, unknown>>) => Record<string, unknown>

/** One event type's shapes: the version written now, and an upcaster from each older version. */
export interface EventTypeVersions {
  /** The version writers write (≥ 1). */
  readonly current: number
  /** `upcasters[n]` turns version `n` into version `n + 1`, for every `n` from 1 below `current`. */
  readonly upcasters: Readonly<Record<number, Upcaster>>
}

/** The shapes of every event type past version 1, by the `_tag` they were stored under. */
export type EventVersions = Readonly<Record<string, EventTypeVersions>>

/** Why `versions` cannot work (a missing step, a bad version), or `undefined` when they can. */
export const checkEventVersions = (versions: EventVersions): string | undefined => {
  for (const [type, { current, upcasters }] of Object.entries(versions)) {
    if (!Number.isSafeInteger(current) || current < 1)
      return `eventVersions.${type}.current must be a positive integer, got ${String(current)}`
    for (let version = 1; version < current; version++)
      if (typeof upcasters[version] !== "function")
        return `eventVersions.${type} has no upcaster from version ${version} to ${version + 1}`
  }
  return undefined
}

/** `true` for a registry with nothing to upcast or stamp: readers and writers skip the work. */
export const isEmpty = (versions: EventVersions): boolean => Object.keys(versions).length === 0

/**
 * The stored JSON of an event read as the current shape: upcast from its `_version` (absent: 1)
 * to its type's current version. Fails, with the reason, on a version newer than this code knows
 * or an upcaster that throws. Anything that is not an object with a string `_tag` is returned as
 * is, for the decoder to refuse.
 */
export const upcast = (data: unknown, versions: EventVersions): Result.Result<unknown, string> => {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return Result.succeed(data)
  const record = data as Record<string, unknown>
  const type = record._tag
  const stored = record[versionKey] ?? 1
  const known = typeof type === "string" && Object.hasOwn(versions, type) ? versions[type]! : undefined
  const current = known?.current ?? 1
  if (!Number.isSafeInteger(stored) || (stored as number) < 1)
    return Result.fail(`its ${versionKey} is ${JSON.stringify(stored)}, not a positive integer`)
  if ((stored as number) > current)
    return Result.fail(
      `it is ${String(type)} version ${String(stored)}, written by a newer idtrail; this one reads up to version ${current}`,
    )
  let out: Record<string, unknown> = record
  for (let version = stored as number; version < current; version++) {
    try {
      out = known!.upcasters[version]!(out)
    } catch (error) {
      return Result.fail(
        `its upcaster from ${String(type)} version ${version} failed: ${error instanceof Error ? error.message : String(error)}`,
      )
    }
  }
  return Result.succeed(out)
}

/** An event's JSON as a writer stores it: with `_version` when its type is past version 1. */
export const stampVersion = (type: string, json: string, versions: EventVersions): string => {
  const current = Object.hasOwn(versions, type) ? versions[type]!.current : 1
  return current === 1 ? json : `{"${versionKey}":${current},${json.slice(1)}`
}
