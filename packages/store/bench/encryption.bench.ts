/**
 * Encryption on against off, in one run: single-client one-event appends carrying personal values
 * (a metadata change) to existing streams, and a catch-up read of the decoded log, in interleaved
 * slices so the machine's noise falls on both alike. Not a test: prints ratios, and writes
 * bench-results/encryption.json and .md. Part of `pnpm bench` (the store's).
 *
 *   DATABASE_URL=postgres://… node bench/encryption.bench.ts [appendsPerSlice] [slices]
 */

import { randomBytes } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { SessionEvent } from "@idtrail/domain"
import { localKeyEncryption } from "../src/crypto/kek.ts"
import type { PromiseStore } from "../src/index.ts"
import { openTemporaryStore } from "../src/testing.ts"

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/idtrail_ci"
const perSlice = Number(process.argv[2] ?? 300)
const slices = Number(process.argv[3] ?? 6)
const streams = 50
const actor = { kind: "service", id: "figures" } as const
const meta = {
  source: "webhook",
  stripeEventId: null,
  stripeEventType: null,
  observedAt: null,
  causationId: null,
  correlationId: null,
  actor,
} as const

const started = (id: string): SessionEvent => ({
  _tag: "SessionStarted",
  sessionId: id,
  at: 1,
  source: "api",
  stripeEventType: null,
  midLife: false,
  facts: {
    status: "requires_input",
    type: "document",
    livemode: false,
    created: 1,
    clientReferenceId: "cust-jane-doe",
    metadata: { email: "jane@example.com", name: "Jane Doe" },
    options: null,
    lastError: null,
    lastVerificationReport: null,
    redactionStatus: null,
    relatedCustomer: null,
    relatedCustomerAccount: null,
    relatedPerson: null,
    verificationFlow: null,
  },
})

const open = async (encrypted: boolean) => {
  const store = await openTemporaryStore({
    databaseUrl,
    encryption: encrypted ? { keyEncryption: localKeyEncryption(randomBytes(32)) } : "off",
  })
  const versions = new Map<string, number>()
  for (let i = 0; i < streams; i++) {
    const id = `vs_fig_${i}`
    await store.appendToStream(id, [started(id)], { expectedVersion: 0, metadata: meta })
    versions.set(id, 1)
  }
  return { store, versions, appendMs: 0, appends: 0, readMs: 0, read: 0 }
}

type Contender = Awaited<ReturnType<typeof open>>

const appendSlice = async (c: Contender, slice: number) => {
  const t = performance.now()
  for (let i = 0; i < perSlice; i++) {
    const id = `vs_fig_${i % streams}`
    const version = c.versions.get(id)!
    const event: SessionEvent = {
      _tag: "SessionUpdated",
      sessionId: id,
      at: 10 + version,
      changes: [
        { field: "metadata", from: { email: `a${slice}-${i}@x.io` }, to: { email: `b${slice}-${i}@x.io` } },
      ],
    }
    const r = await c.store.appendToStream(id, [event], { expectedVersion: version, metadata: meta })
    if (r._tag !== "Appended") throw new Error(r._tag)
    c.versions.set(id, version + 1)
  }
  c.appendMs += performance.now() - t
  c.appends += perSlice
}

const readAllOnce = async (store: PromiseStore) => {
  let n = 0
  for await (const page of store.readAllPages({ after: null, pageSize: 2000 })) n += page.events.length
  return n
}

const off = await open(false)
const on = await open(true)
try {
  for (let s = 0; s < slices; s++) {
    for (const c of s % 2 === 0 ? [off, on] : [on, off]) await appendSlice(c, s)
  }
  for (let s = 0; s < 4; s++) {
    for (const c of s % 2 === 0 ? [off, on] : [on, off]) {
      const t = performance.now()
      c.read += await readAllOnce(c.store)
      c.readMs += performance.now() - t
    }
  }
  const rate = (n: number, ms: number) => Math.round((n / ms) * 1000)
  const appendOff = rate(off.appends, off.appendMs)
  const appendOn = rate(on.appends, on.appendMs)
  const readOff = rate(off.read, off.readMs)
  const readOn = rate(on.read, on.readMs)
  const appendRatio = appendOn / appendOff
  const readRatio = readOn / readOff
  const md = [
    `Encryption of personal values on against off: ${new Date().toISOString()}, Node ${process.version}, ${slices} slices × ${perSlice} appends`,
    "",
    "| scenario | off | on | on / off | target |",
    "| --- | ---: | ---: | ---: | --- |",
    `| 1 event per append, 1 client, personal values | ${appendOff}/s | ${appendOn}/s | ${appendRatio.toFixed(2)} | ≥ 0.85 (${appendRatio >= 0.85 ? "met" : "**not met**"}) |`,
    `| catch-up \`readAllPages\`, decoded | ${readOff}/s | ${readOn}/s | ${readRatio.toFixed(2)} | none |`,
    "",
  ].join("\n")
  console.log(md)
  const out = join(fileURLToPath(new URL("../../..", import.meta.url)), "bench-results")
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, "encryption.md"), md)
  writeFileSync(
    join(out, "encryption.json"),
    `${JSON.stringify(
      {
        environment: {
          node: process.version,
          date: new Date().toISOString(),
          slices,
          appendsPerSlice: perSlice,
        },
        appends: { off: appendOff, on: appendOn, ratio: appendRatio, target: 0.85, met: appendRatio >= 0.85 },
        catchUp: { off: readOff, on: readOn, ratio: readRatio },
      },
      null,
      2,
    )}\n`,
  )
} finally {
  await off.store.dispose()
  await on.store.dispose()
}
