/**
 * Cursor pagination over a creation-ordered collection, newest first, as Stripe lists work.
 *
 * A page never walks the collection from the top: the cursor's index is known (ids encode it),
 * a `created` range becomes an index window by binary search, and the scan starts at the cursor
 * and stops after `limit + 1` matches. With no other filter a page costs O(limit) wherever it is.
 *
 * @module
 */
import type { Range } from "./params.ts"

/** What a page request needs to know about the collection. */
export interface PageRequest {
  /** Number of objects in the collection. */
  readonly size: number
  /** First index whose creation time is ≥ t. */
  readonly firstAtOrAfter: (t: number) => number
  /** Indices below this are gone (expired events); 0 for sessions. */
  readonly floor?: number
  readonly created?: Range | undefined
  /** Index of the `starting_after` object: the page holds older objects. */
  readonly startingAfter?: number | undefined
  /** Index of the `ending_before` object: the page holds newer objects. */
  readonly endingBefore?: number | undefined
  readonly limit: number
  /** Other filters; absent means every object matches. */
  readonly matches?: ((index: number) => boolean) | undefined
}

/** A page: indices newest first, and whether more objects lie beyond it in the paging direction. */
export interface Page {
  readonly indices: number[]
  readonly hasMore: boolean
}

/** Computes one page. */
export const page = (req: PageRequest): Page => {
  const c = req.created ?? {}
  let lo = req.floor ?? 0
  let hi = req.size
  if (c.gte !== undefined) lo = Math.max(lo, req.firstAtOrAfter(c.gte))
  if (c.gt !== undefined) lo = Math.max(lo, req.firstAtOrAfter(c.gt + 1))
  if (c.lte !== undefined) hi = Math.min(hi, req.firstAtOrAfter(c.lte + 1))
  if (c.lt !== undefined) hi = Math.min(hi, req.firstAtOrAfter(c.lt))
  const matches = req.matches ?? (() => true)
  const found: number[] = []
  if (req.endingBefore !== undefined) {
    for (let i = Math.max(lo, req.endingBefore + 1); i < hi && found.length <= req.limit; i++)
      if (matches(i)) found.push(i)
    const hasMore = found.length > req.limit
    return { indices: found.slice(0, req.limit).reverse(), hasMore }
  }
  const start = req.startingAfter !== undefined ? Math.min(hi, req.startingAfter) : hi
  for (let i = start - 1; i >= lo && found.length <= req.limit; i--) if (matches(i)) found.push(i)
  const hasMore = found.length > req.limit
  return { indices: found.slice(0, req.limit), hasMore }
}
