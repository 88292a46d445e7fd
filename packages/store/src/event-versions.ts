/**
 * The schema versions of idtrail's own events: every event type past version 1, with its
 * upcasters. None yet: no event type has changed shape since the log began, so every stored
 * event is at version 1 and reads as it was written.
 *
 * When a type's shape changes in the domain: raise its `current` here, add the upcaster from the
 * previous version (a pure function of the old JSON), and test it with rows written in the old
 * shape (see `test/upcasting.test.ts`). Never edit an upcaster once released: events written in
 * its version are in the log for good.
 *
 * @since 0.1.0
 */
import type { EventVersions } from "./upcasting.ts"

/** idtrail's event types past version 1 (none yet). */
export const eventVersions: EventVersions = {}
