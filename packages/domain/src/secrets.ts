/**
 * Secret-shaped strings: Stripe client secrets, API keys and webhook signing secrets. The domain
 * masks merchant values of this shape before they become facts; the store refuses any event that
 * still holds one.
 *
 * @since 0.1.0
 */

/**
 * A client secret is `<prefix>_<id>_secret_<rest>` (`pi_123_secret_abc`,
 * `vs_1Nu…_secret_live_…`, the simulator's `vs_…_secret_test_…`). The token must start a word,
 * which also keeps the match linear on long strings of `a_a_a…`.
 */
const clientSecret = /(?<![A-Za-z0-9_])[a-z]+_[A-Za-z0-9_]*[A-Za-z0-9]_secret_[A-Za-z0-9]/

/** Secret and restricted API keys (`sk_live_…`, `rk_test_…`) and webhook secrets (`whsec_…`). */
const key = /(?<![A-Za-z0-9])(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]|whsec_[A-Za-z0-9+/])/

/**
 * True when `value` holds a secret-shaped token anywhere in it: a client secret
 * (`<prefix>_<id>_secret_<rest>`), an API key (`sk_live_`, `sk_test_`, `rk_live_`, `rk_test_`) or
 * a webhook secret (`whsec_`). Cheap on ordinary strings: the patterns run only when a marker
 * substring is present.
 */
export const looksLikeSecret = (value: string): boolean =>
  (value.includes("_secret_") && clientSecret.test(value)) ||
  ((value.includes("k_live_") || value.includes("k_test_") || value.includes("whsec_")) && key.test(value))

/** What a secret-shaped merchant value is replaced by in the facts idtrail keeps. */
export const maskedValue = "[masked]"

/**
 * Masks secret-shaped metadata: each such value becomes {@link maskedValue} and its path
 * (`metadata.<key>`) is pushed onto `masked`. A secret-shaped key is masked too, numbered so two
 * never collide (Stripe's keys cannot hold `[`). Deterministic: the same metadata always masks
 * the same way. Returns `metadata` itself when nothing was masked.
 */
export const maskMetadata = (
  metadata: Readonly<Record<string, string>>,
  masked: Array<string>,
): Readonly<Record<string, string>> => {
  let out: Record<string, string> | undefined
  let maskedKeys = 0
  for (const [key, value] of Object.entries(metadata)) {
    const secretKey = looksLikeSecret(key)
    if (!secretKey && !looksLikeSecret(value)) continue
    out ??= { ...metadata }
    if (secretKey) {
      delete out[key]
      maskedKeys++
      const name = maskedKeys === 1 ? maskedValue : `${maskedValue} ${maskedKeys}`
      out[name] = maskedValue
      masked.push(`metadata.${name}`)
    } else {
      out[key] = maskedValue
      masked.push(`metadata.${key}`)
    }
  }
  return out ?? metadata
}
