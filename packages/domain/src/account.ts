/**
 * Which Stripe account a session belongs to, as a string key. The platform's own account is the
 * name the operator gives it (`"default"` unless told otherwise, and what every record written
 * before accounts means); a connected account is its Stripe id `acct_…`, reached through the
 * platform's key with the `Stripe-Account` header. So a key starting with `acct_` is always a
 * connected account, and a platform account is never named that way.
 *
 * @since 0.2.0
 */

/** The platform account every record without an account belongs to. */
export const defaultAccount = "default"

/** Whether `account` is a connected account (`acct_…`) rather than a platform account's name. */
export const isConnectedAccount = (account: string): boolean => account.startsWith("acct_")

/** The account an observation names, or the default one. */
export const accountKeyOf = (account: string | undefined): string => account ?? defaultAccount
