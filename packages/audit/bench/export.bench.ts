/**
 * The export's memory and speed (`pnpm bench`): 1,000,000 events (BENCH_EXPORT_EVENTS) appended
 * to a fresh schema of a real Postgres (`DATABASE_URL`, default the local `idtrail_ci`), then, in
 * the same run:
 *
 * - baseline: the store's own catch-up read of every event (`readAllPages`, decoded), nothing
 *   written;
 * - the CSV and the JSONL event exports of a window holding every event, written to /dev/null.
 *
 * Each runs in a fresh child process (the appends' memory does not count), whose peak resident
 * memory (`maxRSS`) is the figure; the target is an export under 256 MB. Times are reported as a
 * ratio to the baseline. Writes bench-results/audit.json and .md.
 */
import { execFileSync } from "node:child_process"
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { SessionEvent } from "@idtrail/domain"
import { EventStore, openStore } from "@idtrail/store"
import { dropSchema, openTemporaryStore } from "@idtrail/store/testing"
import { Effect } from "effect"
import { factsOf } from "../../domain/src/index.ts"
import { metadata, snapshot } from "../../store/test/fixtures.ts"
import { writeExport } from "../src/index.ts"

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/idtrail_ci"
const total = Number(process.env.BENCH_EXPORT_EVENTS ?? 1_000_000)
const perStream = 100
const limitMb = 256
// The children's V8 heap limit: left alone, V8 grows its heap long before it collects, and the
// peak would measure that, not what the export keeps. An export that kept its rows would run
// out of heap under this cap and fail the benchmark.
const heapMb = Number(process.env.BENCH_EXPORT_HEAP_MB ?? 96)
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const t0 = 1_760_000_000

const [mode, childSchema, childTo] = process.argv.slice(2)

/** In a child process: one contender over the schema the parent filled; prints seconds and peak RSS. */
const child = async (contender: string, schema: string, to: number) => {
  const store = await openStore({ databaseUrl: url, schema, migrate: false })
  // The process at rest (Node, the sources, the pool): what the work adds is measured above it.
  const floorMb = process.resourceUsage().maxRSS / 1024
  const start = performance.now()
  if (contender === "baseline") {
    let n = 0
    for await (const page of store.readAllPages({ after: null, pageSize: 1000 })) n += page.events.length
    if (n !== total) throw new Error(`read ${n} events, expected ${total}`)
  } else {
    const out = createWriteStream("/dev/null")
    const window = { from: new Date(0), to: new Date(to) }
    const format = contender as "csv" | "jsonl"
    await Effect.runPromise(
      Effect.provideService(writeExport(window, { rows: "event", format }, out), EventStore, store.service),
    )
    await new Promise<void>((resolve) => out.end(resolve))
  }
  const seconds = (performance.now() - start) / 1000
  await store.close()
  process.stdout.write(JSON.stringify({ seconds, floorMb, peakMb: process.resourceUsage().maxRSS / 1024 }))
}

if (mode !== undefined) await child(mode, childSchema!, Number(childTo))
else await parent()

async function parent() {
  const store = await openTemporaryStore({ databaseUrl: url })
  try {
    const started = performance.now()
    const streams = Math.ceil(total / perStream)
    const appendOne = async (s: number) => {
      const id = `vs_bench_${s}`
      const events: Array<SessionEvent> = [
        {
          _tag: "SessionStarted",
          sessionId: id,
          at: t0 + s,
          source: "webhook",
          stripeEventType: null,
          midLife: false,
          facts: factsOf(
            snapshot(id, "requires_input", { created: t0 + s, metadata: { order: `ord_${s}` } }),
          ),
        },
      ]
      for (let k = 1; k < perStream; k++)
        events.push({
          _tag: "SessionUpdated",
          sessionId: id,
          at: t0 + s + k,
          changes: [{ field: "metadata", from: { order: `ord_${k - 1}` }, to: { order: `ord_${k}` } }],
        })
      await store.appendToStream(id, events, {
        expectedVersion: 0,
        metadata: metadata({ actor: { kind: "service", id: "bench" } }),
      })
    }
    for (let s = 0; s < streams; s += 8)
      await Promise.all(Array.from({ length: Math.min(8, streams - s) }, (_, k) => appendOne(s + k)))
    console.error(
      `appended ${total.toLocaleString("en")} events in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    )

    const to = (t0 + streams + perStream + 1) * 1000
    const measure = (contender: string): { seconds: number; floorMb: number; peakMb: number } =>
      JSON.parse(
        execFileSync(
          process.execPath,
          [
            `--max-old-space-size=${heapMb}`,
            fileURLToPath(import.meta.url),
            contender,
            store.schema,
            String(to),
          ],
          {
            env: { ...process.env, BENCH_EXPORT_EVENTS: String(total) },
            encoding: "utf8",
            maxBuffer: 1 << 20,
          },
        ),
      )
    const baseline = measure("baseline")
    const csv = measure("csv")
    const jsonl = measure("jsonl")

    const rows = [
      { contender: "baseline: readAllPages, decoded", ...baseline },
      { contender: "export CSV", ...csv },
      { contender: "export JSONL", ...jsonl },
    ].map((r) => ({
      ...r,
      eventsPerSecond: Math.round(total / r.seconds),
      xBaseline: baseline.seconds / r.seconds,
    }))
    const met = [csv, jsonl].every((r) => r.peakMb < limitMb)
    const result = {
      node: process.version,
      events: total,
      at: new Date().toISOString(),
      limitMb,
      heapMb,
      met,
      rows,
    }
    const md = [
      `Node ${process.version}, ${total.toLocaleString("en")} events, ${result.at}`,
      "",
      "| contender | seconds | events/s | speed × baseline | peak RSS (MB) | of which at rest (MB) |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...rows.map(
        (r) =>
          `| ${r.contender} | ${r.seconds.toFixed(1)} | ${r.eventsPerSecond.toLocaleString("en")} | ${r.xBaseline.toFixed(2)} | ${r.peakMb.toFixed(0)} | ${r.floorMb.toFixed(0)} |`,
      ),
      "",
      `Each in a child process with a ${heapMb} MB V8 heap limit; pages of 1,000 events. Target: an export's peak RSS under ${limitMb} MB: ${met ? "met" : "**not met**"}.`,
    ].join("\n")
    mkdirSync(join(repoRoot, "bench-results"), { recursive: true })
    writeFileSync(join(repoRoot, "bench-results", "audit.json"), `${JSON.stringify(result, null, 2)}\n`)
    writeFileSync(join(repoRoot, "bench-results", "audit.md"), `${md}\n`)
    console.log(md)
    if (!met) process.exitCode = 1
  } finally {
    await dropSchema(store)
    await store.close()
  }
}
