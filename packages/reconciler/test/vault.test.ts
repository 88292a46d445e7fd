/**
 * The vault from the reconciler: with a retention, a run reads each verified session once more
 * with its outputs expanded and keeps them encrypted in the store's vault; never a redacted or an
 * erased session, never twice, never in a dry run or with the vault off. The values never reach
 * the event log or the command's output. The simulator plays Stripe over HTTP; the store is
 * encrypted under a random key-encryption key. Expanded reads are counted on the wire (Node's
 * HTTP diagnostics channels), not by the code under test.
 */
import { randomBytes } from "node:crypto"
import diagnostics from "node:diagnostics_channel"
import { mkdtempSync, rmSync } from "node:fs"
import type { ClientRequest, IncomingMessage } from "node:http"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type StartedSimulator, startSimulator } from "@idtrail/simulator"
import { localKeyEncryption, type PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Effect } from "effect"
import Stripe from "stripe"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  apiVersion,
  exitCodes,
  type ReconcileOptions,
  reconcile,
  StripeAuthRefused,
  stripeApi,
} from "../src/index.ts"
import type { ReconcileReport } from "../src/reconcile.ts"
import { binPath, runBin } from "./cli-harness.ts"
import { backends, everyEvent, KEY } from "./fixtures.ts"

// The store's own `pg`, for byte searches of its tables as a person with psql would make them.
const pg = createRequire(new URL("../../store/package.json", import.meta.url))("pg") as {
  Client: new (
    url: string,
  ) => {
    connect(): Promise<void>
    query<R>(text: string): Promise<{ rows: Array<R> }>
    end(): Promise<void>
  }
}

/** Every row of `table` as text: what a byte search of it sees. */
const dump = async (store: PromiseStore, table: string): Promise<string> => {
  const client = new pg.Client(store.url)
  await client.connect()
  try {
    const { rows } = await client.query<{ row: string }>(
      `select t::text as row from "${store.schema}".${table} t`,
    )
    return rows.map((r) => r.row).join("\n")
  } finally {
    await client.end()
  }
}

/** The session ids of the expanded session reads seen on the wire (client side) while `body` runs. */
const expandedReads = async <A>(body: () => Promise<A>): Promise<{ value: A; ids: Array<string> }> => {
  const ids: Array<string> = []
  // Node publishes a request's start more than once when it waits for its socket.
  const seen = new WeakSet<ClientRequest>()
  const onStart = (message: unknown) => {
    const { request } = message as { request: ClientRequest }
    if (seen.has(request)) return
    seen.add(request)
    const match = /\/v1\/identity\/verification_sessions\/(vs_[A-Za-z0-9_]+)\?(.*)$/.exec(request.path)
    if (match !== null && decodeURIComponent(match[2]!).includes("expand")) ids.push(match[1]!)
  }
  diagnostics.subscribe("http.client.request.start", onStart)
  try {
    return { value: await body(), ids }
  } finally {
    diagnostics.unsubscribe("http.client.request.start", onStart)
  }
}

const reconciler = { kind: "user", id: "payout-review" } as const

/** Distinctive values, so a byte search finds them wherever they went. */
const valuesOf = (i: number) => ({
  first_name: `Vaultfirst${i}q`,
  last_name: `Zyxlast${i}q`,
  email: `secret${i}q@vault.example`,
  phone: `+1555010${i}99`,
})

interface Sessions {
  /** Verified, not redacted: what the vault keeps. */
  readonly verified: Array<string>
  readonly redacted: string
  readonly erased: string
  readonly open: Array<string>
}

const openStoreWithKek = (databaseUrl: string | undefined) =>
  openTemporaryStore({
    databaseUrl,
    encryption: { keyEncryption: localKeyEncryption(randomBytes(32)) },
  })

const sdkFor = (sim: StartedSimulator) => {
  const url = new URL(sim.url)
  return new Stripe(KEY, {
    apiVersion,
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    maxNetworkRetries: 0,
  })
}

/** A session taken to `verified` with the values of `i`; its email and phone typed in by the user. */
const verify = async (sim: StartedSimulator, sdk: Stripe, i: number) => {
  const v = valuesOf(i)
  const s = await sdk.identity.verificationSessions.create({
    type: "document",
    provided_details: { email: v.email, phone: v.phone },
  })
  sim.control.submit(s.id)
  sim.control.pass(s.id, { first_name: v.first_name, last_name: v.last_name, email: v.email })
  return s.id
}

describe.each(backends)("the vault through the reconciler on $name", ({ databaseUrl }) => {
  let sim: StartedSimulator
  let sdk: Stripe
  let store: Awaited<ReturnType<typeof openStoreWithKek>>
  let s: Sessions
  const api = () => stripeApi({ apiKey: KEY, baseUrl: sim.url, maxRequestsPerSecond: 1000, maxRetries: 0 })
  const run = (options: ReconcileOptions) => reconcile(store, api(), options) as Promise<ReconcileReport>

  beforeEach(async () => {
    sim = await startSimulator({ sessions: 0, seed: 7, rateLimit: false })
    sdk = sdkFor(sim)
    store = await openStoreWithKek(databaseUrl)
    const verified: Array<string> = []
    for (let i = 0; i < 4; i++) verified.push(await verify(sim, sdk, i))
    const redacted = await verify(sim, sdk, 4)
    await sdk.identity.verificationSessions.redact(redacted)
    const erased = await verify(sim, sdk, 5)
    const open: Array<string> = []
    for (let i = 0; i < 2; i++)
      open.push((await sdk.identity.verificationSessions.create({ type: "document" })).id)
    s = { verified, redacted, erased, open }
  })
  afterEach(async () => {
    await store?.dispose()
    await sim?.close()
  })

  it("with the vault off, a sweep and an incremental run read nothing expanded and report no vault", async () => {
    const { value, ids } = await expandedReads(async () => [
      await run({ mode: "sweep" }),
      await run({ mode: "incremental" }),
    ])
    expect(ids).toEqual([])
    for (const r of value) {
      expect(r.complete).toBe(true)
      expect(r.vault).toBeUndefined()
    }
    expect(await dump(store, "vault")).toBe("")
  })

  it("a sweep keeps each verified session's outputs once (never a redacted or an erased one); a second sweep reads nothing more; a read returns them and is recorded", async () => {
    // Known before the vault is turned on; an operator erases one of them.
    await run({ mode: "sweep" })
    await store.erasure.erase(s.erased, { actor: reconciler, reason: "DSR-7" })

    const first = await expandedReads(() => run({ mode: "sweep", vault: { retention: "30 days" } }))
    expect(first.ids.sort()).toEqual([...s.verified].sort())
    expect(first.value).toMatchObject({
      complete: true,
      vault: { vaulted: 4, kept: 4, notKept: 0, expired: 0, retention: "30d" },
    })

    const second = await expandedReads(() => run({ mode: "sweep", vault: { retention: "30 days" } }))
    expect(second.ids).toEqual([])
    expect(second.value).toMatchObject({ complete: true, vault: { vaulted: 0, kept: 0, expired: 0 } })

    for (const [i, id] of s.verified.entries()) {
      const v = valuesOf(i)
      const read = await store.vault.read(id, { actor: reconciler, reason: "payout review #88" })
      expect(read.status).toBe("kept")
      expect(read.verifiedOutputs).toMatchObject({
        first_name: v.first_name,
        last_name: v.last_name,
        email: v.email,
      })
      expect(read.providedDetails).toEqual({ email: v.email, phone: v.phone })
      const events = (await store.readStream(id)).map((e) => e.event)
      expect(events.filter((e) => e._tag === "VerifiedOutputsVaulted")).toHaveLength(1)
      expect(events.filter((e) => e._tag === "VaultAccessed")).toEqual([
        expect.objectContaining({ reason: "payout review #88", fields: read.fields }),
      ])
    }
    for (const id of [s.redacted, s.erased, ...s.open])
      expect((await store.vault.read(id, { actor: reconciler, reason: "check" })).status).not.toBe("kept")

    // The log holds field names only; the vault holds ciphertext only.
    const log = await dump(store, "events")
    const vault = await dump(store, "vault")
    expect(log).toContain("verified_outputs.first_name")
    for (let i = 0; i < 6; i++)
      for (const value of Object.values(valuesOf(i))) {
        expect(log).not.toContain(value)
        expect(vault).not.toContain(value)
      }
  })

  it("an incremental run keeps the outputs of a session verified since, reading no other session expanded", async () => {
    await run({ mode: "sweep", vault: { retention: "30 days" } })
    const later = await verify(sim, sdk, 6)
    const { value, ids } = await expandedReads(() =>
      run({ mode: "incremental", vault: { retention: "30 days" } }),
    )
    expect(ids).toEqual([later])
    expect(value).toMatchObject({ complete: true, vault: { vaulted: 1, kept: 1 } })
    expect(
      (await store.vault.read(later, { actor: reconciler, reason: "check" })).verifiedOutputs,
    ).toMatchObject({
      first_name: valuesOf(6).first_name,
    })
  })

  it("values past their retention are deleted at the end of a later run, which does not read them again", async () => {
    const t0 = Date.now()
    await run({ mode: "sweep", vault: { retention: "30 days", now: () => new Date(t0) } })
    expect((await store.vault.read(s.verified[0]!, { actor: reconciler, reason: "check" })).status).toBe(
      "kept",
    )
    const within = await run({
      mode: "sweep",
      vault: { retention: "30 days", now: () => new Date(t0 + 29 * 86_400_000) },
    })
    expect(within.vault).toMatchObject({ vaulted: 0, expired: 0 })

    const later = new Date(t0 + 31 * 86_400_000)
    const { value, ids } = await expandedReads(() =>
      run({ mode: "sweep", vault: { retention: "30 days", now: () => later } }),
    )
    expect(ids).toEqual([])
    // Two rows a session (verified outputs, provided details) for the five verified sessions.
    expect(value.vault).toMatchObject({ vaulted: 0, expired: 10 })
    expect(await dump(store, "vault")).toBe("")
    const read = await store.vault.read(s.verified[0]!, { actor: reconciler, reason: "check" })
    expect(read).toMatchObject({ status: "empty", verifiedOutputs: null, providedDetails: null })
  })

  it("expanded reads go through the run's retries: with 5xx answers they are sent again until every session is kept", async () => {
    await run({ mode: "sweep" })
    sim.control.setApiFaults({ serverErrorRate: 0.4, serverErrorStatus: 503 })
    const retrying = stripeApi({ apiKey: KEY, baseUrl: sim.url, maxRequestsPerSecond: 1000, maxRetries: 20 })
    const { value, ids } = await expandedReads(
      () =>
        reconcile(store, retrying, {
          mode: "sweep",
          vault: { retention: "30 days" },
        }) as Promise<ReconcileReport>,
    )
    sim.control.setApiFaults({ serverErrorRate: 0 })
    expect(value).toMatchObject({ complete: true, vault: { vaulted: 5, kept: 5 } })
    expect(new Set(ids).size).toBe(5)
    expect(ids.length).toBeGreaterThan(5)
  })

  it("a key Stripe refuses for the expanded read ends the run (StripeAuthRefused) with a message saying it was the vault's", async () => {
    const api = stripeApi({ apiKey: KEY, baseUrl: sim.url, maxRequestsPerSecond: 1000, maxRetries: 0 })
    const refusing = {
      ...api,
      retrieveWithOutputs: () =>
        Effect.fail(new StripeAuthRefused({ status: 403, message: "Stripe refused the API key (injected)" })),
    }
    await expect(
      reconcile(store, refusing, { mode: "sweep", vault: { retention: "30 days" } }),
    ).rejects.toMatchObject({
      _tag: "StripeAuthRefused",
      message: expect.stringContaining("verified outputs for the vault"),
    })
    expect(await dump(store, "vault")).toBe("")
  })

  it("a dry run reads nothing expanded, keeps nothing and expires nothing", async () => {
    const { value, ids } = await expandedReads(() =>
      run({ mode: "sweep", dryRun: true, vault: { retention: "30 days" } }),
    )
    expect(ids).toEqual([])
    expect(value.vault).toMatchObject({ vaulted: 0, kept: 0, expired: null })
  })
})

describe("the vault options of a run", () => {
  it("a store without a key-encryption key, or a retention out of range, is refused before anything runs", async () => {
    const sim = await startSimulator({ sessions: 3, seed: 7, rateLimit: false })
    const clear = await openTemporaryStore({ encryption: "off" })
    const encrypted = await openStoreWithKek(undefined)
    try {
      const api = stripeApi({ apiKey: KEY, baseUrl: sim.url, maxRequestsPerSecond: 1000, maxRetries: 0 })
      await expect(
        reconcile(clear, api, { mode: "sweep", vault: { retention: "30 days" } }),
      ).rejects.toMatchObject({
        _tag: "InvalidConfig",
        setting: "vault",
        message: expect.stringContaining("IDTRAIL_KEK"),
      })
      for (const retention of ["0 millis", "11000 days"] as const)
        await expect(
          reconcile(encrypted, api, { mode: "sweep", vault: { retention } }),
        ).rejects.toMatchObject({
          _tag: "InvalidConfig",
          setting: "vault.retention",
        })
      expect(await Effect.runPromise(api.requests)).toBe(0)
      expect(await everyEvent(clear)).toEqual([])
    } finally {
      await clear.dispose()
      await encrypted.dispose()
      await sim.close()
    }
  })
})

describe("idtrail reconcile --vault-retention (the CLI entry)", () => {
  const cli = runBin(binPath("idtrail.ts"))
  let sim: StartedSimulator
  let dir: string
  let verified: Array<string>
  /** Requests the simulator received (server side), by path. */
  const received: Array<string> = []
  const seen = new WeakSet<IncomingMessage>()
  const onRequest = (message: unknown) => {
    const { request } = message as { request: IncomingMessage }
    if (seen.has(request)) return
    seen.add(request)
    received.push(request.url ?? "")
  }
  beforeAll(async () => {
    sim = await startSimulator({ sessions: 0, seed: 7, rateLimit: false })
    const sdk = sdkFor(sim)
    verified = []
    for (let i = 0; i < 3; i++) verified.push(await verify(sim, sdk, i))
    await sdk.identity.verificationSessions.create({ type: "document" })
    dir = mkdtempSync(join(tmpdir(), "idtrail-cli-vault-"))
    diagnostics.subscribe("http.server.request.start", onRequest)
  })
  afterAll(async () => {
    diagnostics.unsubscribe("http.server.request.start", onRequest)
    rmSync(dir, { recursive: true, force: true })
    await sim?.close()
  })
  const env = () => ({ STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url })

  it("without a key-encryption key: exit 2 naming IDTRAIL_KEK, nothing sent to Stripe (the flag or IDTRAIL_VAULT_RETENTION)", async () => {
    received.length = 0
    const byFlag = await cli(
      ["reconcile", "--mode", "sweep", "--vault-retention", "30d", "--data-dir", join(dir, "nokek")],
      env(),
    )
    expect(byFlag.code, byFlag.stderr).toBe(exitCodes.badConfig)
    expect(byFlag.stderr).toContain("IDTRAIL_KEK")
    const byEnv = await cli(["reconcile", "--mode", "sweep", "--data-dir", join(dir, "nokek")], {
      ...env(),
      IDTRAIL_VAULT_RETENTION: "30d",
    })
    expect(byEnv.code, byEnv.stderr).toBe(exitCodes.badConfig)
    const bad = await cli(["reconcile", "--vault-retention", "forever", "--data-dir", join(dir, "nokek")], {
      ...env(),
      IDTRAIL_KEK: randomBytes(32).toString("base64"),
    })
    expect(bad.code, bad.stderr).toBe(exitCodes.badConfig)
    expect(bad.stderr).toContain("--vault-retention")
    expect(received).toEqual([])
  })

  it("with one: a sweep keeps the verified sessions' outputs (the report says how many), a second reads none again, and no value is printed", async () => {
    const kek = { IDTRAIL_KEK: randomBytes(32).toString("base64") }
    const dataDir = join(dir, "db")
    received.length = 0
    const first = await cli(
      ["reconcile", "--mode", "sweep", "--vault-retention", "90d", "--json", "--data-dir", dataDir],
      { ...env(), ...kek },
    )
    expect(first.code, first.stderr).toBe(exitCodes.complete)
    expect(JSON.parse(first.stdout)).toMatchObject({
      vault: { vaulted: 3, kept: 3, expired: 0, retention: "90d" },
    })
    const expanded = received.filter((u) => decodeURIComponent(u).includes("expand"))
    expect(expanded.map((u) => /verification_sessions\/(vs_\w+)/.exec(u)?.[1]).sort()).toEqual(
      [...verified].sort(),
    )

    const second = await cli(["reconcile", "--mode", "sweep", "--data-dir", dataDir], {
      ...env(),
      ...kek,
      IDTRAIL_VAULT_RETENTION: "90d",
    })
    expect(second.code, second.stderr).toBe(exitCodes.complete)
    expect(second.stdout).toMatch(/vault \(retention 90d\): 0 sessions read with verified outputs/)
    expect(received.filter((u) => decodeURIComponent(u).includes("expand"))).toHaveLength(3)

    for (let i = 0; i < 3; i++)
      for (const value of Object.values(valuesOf(i)))
        for (const out of [first.stdout, first.stderr, second.stdout, second.stderr])
          expect(out).not.toContain(value)
  })
})
