/**
 * Where the store runs: a `pg` Pool on `DATABASE_URL`, or, without one, PGlite (Postgres compiled
 * to WASM, in a data directory) served on 127.0.0.1 through `@electric-sql/pglite-socket`, so the
 * very same `pg` + kysely code path runs against both.
 *
 * Without a data directory PGlite gets a temporary one on disk, removed when the store closes,
 * not `memory://`: in memory every page of the database lives in the process (about 6 KB a
 * session), so a sandbox's memory grew with its sessions; on disk it stays flat, the OS caching
 * what is read often. Its shared buffers are 16 MB instead of 128 MB for the same reason: PGlite
 * is one session, and the OS cache behind them is cheap. Measured in the reconciler's README.
 *
 * @since 0.1.0
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Kysely, PostgresDialect } from "kysely"
import pg from "pg"

/** Where to connect. */
export interface ConnectionOptions {
  /** A Postgres URL. Without one, an embedded PGlite is started. */
  readonly databaseUrl?: string | undefined
  /**
   * PGlite only: a data directory to persist to. Absent: a temporary directory, removed on close;
   * `memory://`: in memory (faster to start, but the process holds the whole database).
   */
  readonly dataDir?: string | undefined
  /** Real Postgres only: the pool's size (default 10). PGlite is one session: always 1. */
  readonly poolSize?: number | undefined
  /** How long to wait for a connection before the database counts as down (default 5 s). */
  readonly connectTimeoutMs?: number | undefined
}

/** An open connection: kysely over a `pg` Pool, and how to close everything. */
export interface Connection {
  readonly db: Kysely<unknown>
  readonly pool: pg.Pool
  readonly kind: "postgres" | "pglite"
  /** The URL the pool connects to (the embedded server's, for PGlite). */
  readonly url: string
  /** PGlite's directory (a temporary one unless given; `memory://` in memory); undefined on Postgres. */
  readonly dataDir: string | undefined
  readonly close: () => Promise<void>
}

// Our own parsers for the types the store reads, so another library that changes pg's global
// parsers (some turn int8 into BigInt, or parse JSON with a reviver) changes nothing here.
const identity = (value: string): string => value
const ownParsers: ReadonlyMap<number, (value: string) => unknown> = new Map<
  number,
  (value: string) => unknown
>([
  [16, (value) => value === "t"], // bool
  [20, identity], // int8: exact, as text
  [21, Number], // int2
  [23, Number], // int4
  [25, identity], // text
  [114, JSON.parse], // json
  [700, Number.parseFloat], // float4
  [701, Number.parseFloat], // float8
  [1043, identity], // varchar
  [3802, JSON.parse], // jsonb
  [5069, identity], // xid8: exact, as text
])
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    (format ?? "text") === "text" && ownParsers.has(oid)
      ? ownParsers.get(oid)!
      : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
}

const makePool = (url: string, max: number, connectTimeoutMs: number, idleTimeoutMillis: number): pg.Pool => {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis,
    types,
  })
  // A client losing its server must not crash the process (an 'error' event without a listener
  // throws); the query in flight, or the next one, reports it as StoreUnavailable.
  pool.on("error", () => {})
  pool.on("connect", (client) => client.on("error", () => {}))
  return pool
}

/** PGlite's shared buffers (its default is 128 MB, all of it in the process once touched). */
const pgliteSharedBuffers = "16MB"

/** Opens a pool on `databaseUrl`, or starts an embedded PGlite and opens a one-connection pool on it. */
export const connect = async (options: ConnectionOptions): Promise<Connection> => {
  const timeout = options.connectTimeoutMs ?? 5000
  if (options.databaseUrl !== undefined && options.databaseUrl !== "") {
    const pool = makePool(options.databaseUrl, options.poolSize ?? 10, timeout, 10_000)
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
    return {
      db,
      pool,
      kind: "postgres",
      url: options.databaseUrl,
      dataDir: undefined,
      close: () => db.destroy(),
    }
  }
  const temporary =
    options.dataDir === undefined ? await mkdtemp(join(tmpdir(), "idtrail-pglite-")) : undefined
  const removeTemporary = () =>
    temporary === undefined ? Promise.resolve() : rm(temporary, { recursive: true, force: true })
  const pglite = new PGlite(options.dataDir ?? temporary, {
    startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${pgliteSharedBuffers}`],
  })
  try {
    await pglite.waitReady
  } catch (error) {
    await removeTemporary()
    throw error
  }
  // Port 0: the OS picks a free port, so several stores (and test files) never collide.
  const server = new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port: 0, maxConnections: 4 })
  await server.start()
  const url = `postgres://postgres@${server.getServerConn()}/postgres`
  // PGlite is a single session: one connection, never dropped for idleness.
  const pool = makePool(url, 1, timeout, 0)
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  return {
    db,
    pool,
    kind: "pglite",
    url,
    dataDir: options.dataDir ?? temporary,
    close: async () => {
      try {
        await db.destroy()
        await server.stop()
        await pglite.close()
      } finally {
        await removeTemporary()
      }
    },
  }
}
