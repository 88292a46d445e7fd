/**
 * Typed-array columns: the session table and the event log keep one typed array per field (a
 * million sessions in tens of megabytes). These helpers double a column as it fills and search
 * the creation-time column, which is sorted because creation order is time order.
 *
 * @since 0.1.0
 */

type Column = Float64Array | Uint8Array | Uint32Array | Int32Array

/** The doubled capacity that holds `needed`, starting from `current` (never less). */
export const capacityFor = (current: number, needed: number): number => {
  let n = Math.max(1, current)
  while (n < needed) n *= 2
  return n
}

/** A copy of `column` with room for `capacity` entries. */
export const grown = <T extends Column>(column: T, capacity: number): T => {
  const next = new (column.constructor as new (n: number) => T)(capacity)
  next.set(column)
  return next
}

/** The first index among the first `size` whose time is ≥ `t`; `times` is sorted ascending. */
export const firstAtOrAfter = (times: Float64Array, size: number, t: number): number => {
  let lo = 0
  let hi = size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (times[mid]! < t) lo = mid + 1
    else hi = mid
  }
  return lo
}
