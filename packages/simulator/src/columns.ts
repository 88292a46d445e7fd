/**
 * Growing typed-array columns: the session table and the event log keep one typed array per
 * field (a million sessions in tens of megabytes) and double them as they fill.
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
