/**
 * The job's logs on stderr: one JSON object a line when stderr is not a terminal (what a log
 * collector reads: `timestamp`, `level`, `message`, then the fields), a short human line on a
 * terminal. The same writer serves the command's own lines and Effect's `Effect.log*` (as the
 * logger that replaces Effect's default one).
 *
 * @since 0.1.0
 */
import { Cause, type Layer, Logger, References } from "effect"

export type LogLevel = "debug" | "info" | "warn" | "error"

/** Writes one log line. `fields` are the line's structured data (JSON fields, or `k=v` for people). */
export type Log = (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => void

const human = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value))

/** A log writing whole lines to `write`, as JSON when `json`. */
export const makeLog =
  (json: boolean, write: (line: string) => void, now: () => Date = () => new Date()): Log =>
  (level, message, fields = {}) => {
    const time = now()
    if (json) {
      write(JSON.stringify({ timestamp: time.toISOString(), level, message, ...fields }))
      return
    }
    const data = Object.entries(fields)
      .map(([k, v]) => ` ${k}=${human(v)}`)
      .join("")
    const tag = level === "info" ? "" : `${level.toUpperCase()} `
    write(`${time.toISOString().slice(11, 19)} ${tag}${message}${data}`)
  }

const levels: Record<string, LogLevel> = {
  Trace: "debug",
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
  Fatal: "error",
}

/** Effect's logs through `log` (their annotations become fields; a cause, its pretty form). */
export const logLayer = (log: Log): Layer.Layer<never> =>
  Logger.layer([
    Logger.make(({ logLevel, message, fiber, cause }) => {
      const text = (Array.isArray(message) ? message : [message]).map(human).join(" ")
      const fields: Record<string, unknown> = { ...fiber.getRef(References.CurrentLogAnnotations) }
      if (cause.reasons.length > 0) fields.cause = Cause.pretty(cause)
      log(levels[logLevel] ?? "info", text, fields)
    }),
  ])
