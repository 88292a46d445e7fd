/**
 * Copied into the packed-install check's app: a strict TypeScript app that imports every
 * published package (and the store's `testing` entry) from its installed tarball. It only has to
 * type-check; the app's own routes are exercised by running it.
 */
import { auditViews } from "@idtrail/audit"
import { decodeSession, initialState } from "@idtrail/domain"
import { exitCodes, reconcile } from "@idtrail/reconciler"
import { startSimulator } from "@idtrail/simulator"
import { defaultSchema, openStore, type PromiseStore } from "@idtrail/store"
import { freshSchema } from "@idtrail/store/testing"
import { nodeWebhookHandler, webhookHandler } from "@idtrail/webhooks"

export const everyPackage = {
  auditViews,
  decodeSession,
  initialState,
  exitCodes,
  reconcile,
  startSimulator,
  defaultSchema,
  openStore,
  freshSchema,
  nodeWebhookHandler,
  webhookHandler,
}

export const openForTests = (): Promise<PromiseStore> => openStore({ schema: freshSchema() })
