/**
 * What every command of the CLI is given: the environment, where its output goes, and how it
 * logs. `main.ts` makes it from the process; tests can make it from anything.
 *
 * @since 0.1.0
 */
import type { EventStoreService } from "@idtrail/store"
import type { Log } from "../log.ts"
import type { Report } from "../report.ts"

export interface CliContext {
  readonly env: NodeJS.ProcessEnv
  readonly log: Log
  /** The command's result (a report, or the JSON report), a whole text at a time. */
  readonly stdout: (text: string) => void
  /** Raw stderr, for the live progress line. */
  readonly stderr: (text: string) => void
  /** Whether stderr is a terminal (a live progress line, human logs) or not (log lines, JSON). */
  readonly stderrIsTerminal: boolean
  /** Told of every report printed; the last one decides the exit code. */
  readonly onReport: (report: Report) => void
}

/** The store in use, for the log: where it is and its schema. */
export const describeStore = (store: EventStoreService, dataDir: string | undefined): string => {
  const where =
    dataDir === undefined
      ? " in a temporary directory"
      : dataDir === "memory://"
        ? " in memory"
        : ` in ${dataDir}`
  return `store: ${store.kind === "postgres" ? "Postgres (DATABASE_URL)" : `embedded PGlite${where}`}, schema ${store.schema}`
}
