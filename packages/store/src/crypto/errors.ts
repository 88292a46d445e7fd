/**
 * The ways opening an encrypted store, or erasing a session, can say no. Each is raised before
 * anything is written.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * No key-encryption key was given, but this schema's personal data is encrypted (its keys are
 * wrapped by a KEK): starting would leave every reader showing `[erased]` and write new personal
 * values in clear. Set `IDTRAIL_KEK` (or `IDTRAIL_KEK_FILE`).
 */
export class KeyEncryptionKeyMissing extends Schema.TaggedError<KeyEncryptionKeyMissing>()(
  "KeyEncryptionKeyMissing",
  { message: Schema.String },
) {}

/**
 * The key-encryption key given is malformed (not 32 bytes of base64, an unreadable file) or not
 * the one this schema's keys are wrapped by.
 */
export class KeyEncryptionKeyInvalid extends Schema.TaggedError<KeyEncryptionKeyInvalid>()(
  "KeyEncryptionKeyInvalid",
  { message: Schema.String },
) {}

/** Erasure asked of a store that keeps personal data in clear (no KEK): it cannot forget anything. */
export class EncryptionOff extends Schema.TaggedError<EncryptionOff>()("EncryptionOff", {
  message: Schema.String,
}) {}
