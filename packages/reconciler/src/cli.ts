#!/usr/bin/env node
/**
 * `idtrail-reconcile`: `idtrail reconcile` under its first name, for a scheduler (cron, a
 * Kubernetes CronJob): the same flags, environment, output and exit codes. See `cli/` and the
 * README.
 *
 *   pnpm reconcile -- [--mode incremental|sweep] [--dry-run] [--json] [--account NAME]
 *                     [--data-dir DIR] [--simulate N] [--every DURATION] [--report FILE]
 *
 * @since 0.1.0
 */
import { isEntryPoint, main } from "./cli/main.ts"

if (isEntryPoint(import.meta.url)) {
  process.exitCode = await main(["reconcile", ...process.argv.slice(2)], process.env)
}
