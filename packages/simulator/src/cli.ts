#!/usr/bin/env node
/**
 * `pnpm sim -- --port 12111 --seed 1 --sessions 1000`: starts the simulator and prints its base
 * URL. Bad flags print the usage and exit with status 2.
 *
 * @module
 */
import { realpathSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { ACCOUNT_ID, startSimulator } from "./index.ts"

const USAGE = `Usage: idtrail-sim [options]

  --port <n>            port to listen on (default 12111; 0 picks a free one)
  --host <addr>         interface to bind (default 127.0.0.1)
  --seed <n>            seed for ids, generated sessions and faults (default 1)
  --sessions <n>        sessions to generate at start (default 0)
  --span-days <n>       days the generated sessions spread over (default 90)
  --rate-limit <n>      requests per second per API key; 0 turns it off (default 25)
  --start-time <unix>   simulator clock start, unix seconds (default now)
  --frozen-clock        the clock moves only when advanced through the control API
  --control-token <t>   require 'Authorization: Bearer <t>' on /_sim/ routes
  --webhook <url>       register a webhook endpoint (repeatable); its secret is printed
  --connected-account <acct_…>
                        add a Connect connected account (repeatable); requests with the
                        Stripe-Account header act as it
  --connected-sessions <n>
                        sessions to generate at start in each connected account (default 0)
  --connect-webhook <url>
                        register a Connect webhook endpoint (repeatable): connected accounts'
                        events, with 'account'; its secret is printed
  --help                show this help`

const fail = (message: string): never => {
  process.stderr.write(`idtrail-sim: ${message}\n\n${USAGE}\n`)
  process.exit(2)
}

const integer = (name: string, raw: string | undefined, fallback: number, min = 0): number => {
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min) fail(`--${name} must be an integer ≥ ${min}, got '${raw}'`)
  return Number(raw)
}

/** Runs the command with `argv` (also `idtrail sim`); it serves until SIGINT or SIGTERM. */
export const main = async (argv: ReadonlyArray<string> = process.argv.slice(2)): Promise<void> => {
  const args = [...argv]
  // `pnpm sim -- --port 1` forwards the separator itself.
  if (args[0] === "--") args.shift()
  let values: Record<string, string | boolean | string[] | undefined>
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        seed: { type: "string" },
        sessions: { type: "string" },
        "span-days": { type: "string" },
        "rate-limit": { type: "string" },
        "start-time": { type: "string" },
        "frozen-clock": { type: "boolean" },
        "control-token": { type: "string" },
        webhook: { type: "string", multiple: true },
        "connected-account": { type: "string", multiple: true },
        "connected-sessions": { type: "string" },
        "connect-webhook": { type: "string", multiple: true },
        help: { type: "boolean" },
      },
    }).values
  } catch (e) {
    return fail((e as Error).message)
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const port = integer("port", values.port as string | undefined, 12111)
  if (port > 65535) fail(`--port must be at most 65535, got ${port}`)
  const startTime = values["start-time"] as string | undefined
  const connected = (values["connected-account"] as string[] | undefined) ?? []
  for (const id of connected)
    if (!ACCOUNT_ID.test(id)) fail(`--connected-account must be acct_ and letters or digits, got '${id}'`)
  if (new Set(connected).size !== connected.length) fail("--connected-account names an account twice")
  const connectedSessions = integer(
    "connected-sessions",
    values["connected-sessions"] as string | undefined,
    0,
  )
  if (connectedSessions > 0 && connected.length === 0)
    fail("--connected-sessions needs at least one --connected-account")
  const endpoints = [
    ...((values.webhook as string[] | undefined) ?? []).map((url) => ({ url, connect: false })),
    ...((values["connect-webhook"] as string[] | undefined) ?? []).map((url) => ({ url, connect: true })),
  ]
  // Every flag is checked before the server binds its port: a bad one never meets a busy port first.
  for (const { url, connect } of endpoints)
    if (!URL.canParse(url)) fail(`--${connect ? "connect-webhook" : "webhook"} must be a URL, got '${url}'`)
  const sim = await startSimulator({
    port,
    host: (values.host as string | undefined) ?? "127.0.0.1",
    seed: integer("seed", values.seed as string | undefined, 1),
    sessions: integer("sessions", values.sessions as string | undefined, 0),
    spanDays: integer("span-days", values["span-days"] as string | undefined, 90, 1),
    rateLimit: integer("rate-limit", values["rate-limit"] as string | undefined, 25),
    ...(startTime === undefined ? {} : { startTime: integer("start-time", startTime, 0) }),
    frozenClock: values["frozen-clock"] === true,
    connectedAccounts: connected,
    connectedSessions,
    ...(values["control-token"] === undefined ? {} : { controlToken: values["control-token"] as string }),
  }).catch((e: Error) => fail(e.message))
  for (const { url, connect } of endpoints) {
    try {
      const endpoint = sim.control.addWebhookEndpoint({ url, connect })
      process.stdout.write(
        `${connect ? "Connect webhook" : "webhook"} ${endpoint.id} → ${endpoint.url} (secret ${endpoint.secret})\n`,
      )
    } catch {
      await sim.close()
      fail(`--${connect ? "connect-webhook" : "webhook"} must be a URL, got '${url}'`)
    }
  }
  const stats = sim.control.stats()
  process.stdout.write(
    `Stripe Identity simulator: ${stats.sessions} sessions, ${stats.liveEvents} live events\n`,
  )
  for (const id of sim.control.connectedAccounts()) {
    const a = sim.control.stats(id)
    process.stdout.write(`connected account ${id}: ${a.sessions} sessions, ${a.liveEvents} live events\n`)
  }
  process.stdout.write(`${sim.url}\n`)
  const stop = () => {
    void sim.close().then(() => process.exit(0))
  }
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
}

// Run when this file is the entry point, also through a symlink (real paths compared).
const isEntryPoint = (): boolean => {
  try {
    return (
      process.argv[1] !== undefined &&
      realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1])
    )
  } catch {
    return false
  }
}

if (isEntryPoint()) await main()
