/**
 * The job's telemetry, off the run's logic: OpenTelemetry traces, metrics and logs exported over
 * OTLP/HTTP (JSON) through `effect/observability`, only when the standard `OTEL_*` variables name
 * an endpoint. (The logs on stderr are `log.ts`.)
 *
 * - Spans are the run's own `Effect.fn` names (`reconciler.run`, one per page, one per Stripe
 *   request); the OTLP tracer exports them.
 * - Counters and the drift-age histogram are counted at the service boundaries: the store's
 *   `handle` and `runState.quarantine` (wrapped here), and the HTTP requests the Stripe SDK sends
 *   (Node's `http.client.response.finish` diagnostics channel, filtered by Stripe's host), so a
 *   retried 429 is counted though the run only sees the retry's answer.
 *
 * @since 0.1.0
 */
import diagnostics from "node:diagnostics_channel"
import type { ClientRequest, IncomingMessage } from "node:http"
import type { EventStoreService } from "@idtrail/store"
import { ConfigProvider, Effect, Layer, Metric } from "effect"
import { FetchHttpClient } from "effect/http"
import { Otlp, OtlpExporter, OtlpSerialization } from "effect/observability"

const counter = (name: string, description: string) =>
  Metric.counter(`idtrail.reconciler.${name}`, { description, incremental: true })

/** The job's metrics (OpenTelemetry names; every one carries `account`, `mode`, `dry_run`). */
export const metrics = {
  examined: counter("sessions.examined", "Sessions read from Stripe and compared with the local record"),
  started: counter("sessions.recorded", "Sessions missing locally, now recorded"),
  repaired: counter("sessions.repaired", "Known sessions whose local record drifted and was repaired"),
  quarantined: counter("sessions.quarantined", "Sessions that failed and were set aside for the next runs"),
  requests: counter("stripe.requests", "HTTP requests sent to Stripe, retries included"),
  rateLimited: counter("stripe.rate_limited", "Stripe's 429 answers (each is retried)"),
  driftAge: Metric.histogram("idtrail.reconciler.drift_age_seconds", {
    description:
      "For each session recorded or repaired: Stripe's time of the read minus the local record's last change (its creation when it was missing)",
    // a minute, ten minutes, an hour, six hours, a day, a week, thirty days
    boundaries: [60, 600, 3_600, 21_600, 86_400, 604_800, 2_592_000],
  }),
} as const

/** The attributes every metric of a run carries. */
export interface RunAttributes {
  readonly account: string
  readonly mode: "incremental" | "sweep"
  readonly dryRun: boolean
}

const attributesOf = (run: RunAttributes) => ({
  account: run.account,
  mode: run.mode,
  dry_run: String(run.dryRun),
})

/** True when an OTLP endpoint is configured for `signal` (or for all) and the SDK is not disabled. */
export const otlpConfigured = (env: NodeJS.ProcessEnv, signal?: "TRACES" | "METRICS" | "LOGS"): boolean =>
  env.OTEL_SDK_DISABLED !== "true" &&
  Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || (signal && env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]))

/**
 * The environment Effect's OTLP layers read. The OpenTelemetry spec makes `otlp` the default
 * exporter of every signal; Effect asks for it to be named, so it is added where unset.
 */
const withSpecDefaults = (env: NodeJS.ProcessEnv): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value
  for (const signal of ["TRACES", "METRICS", "LOGS"] as const)
    if (out[`OTEL_${signal}_EXPORTER`] === undefined) out[`OTEL_${signal}_EXPORTER`] = "otlp"
  if (out.OTEL_SERVICE_NAME === undefined) out.OTEL_SERVICE_NAME = "idtrail-reconciler"
  return out
}

/**
 * Traces, metrics and logs over OTLP/HTTP as the `OTEL_*` variables say; nothing at all (not
 * even a background fiber) when no endpoint is configured. Closing the layer flushes.
 */
export const otlpLayer = (env: NodeJS.ProcessEnv): Layer.Layer<OtlpExporter.Flusher> =>
  !otlpConfigured(env, "TRACES") && !otlpConfigured(env, "METRICS") && !otlpConfigured(env, "LOGS")
    ? OtlpExporter.layerFlusher
    : Otlp.layerFromConfig({ loggerMergeWithExisting: true }).pipe(
        Layer.provide(OtlpSerialization.layerJson),
        Layer.provide(FetchHttpClient.layer),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: withSpecDefaults(env) }))),
      )

/** The store, counting what the run's `handle` and quarantine do; with `driftAge`, the age of each repair. */
export const instrumentStore = (
  store: EventStoreService,
  run: RunAttributes,
  options: { readonly driftAge: boolean },
): EventStoreService => {
  const attributes = attributesOf(run)
  const count = (metric: Metric.Metric<number, unknown>, n = 1) =>
    Metric.update(Metric.withAttributes(metric, attributes), n)
  return {
    ...store,
    handle: (streamId, command, context, handleOptions) =>
      Effect.gen(function* () {
        const before = options.driftAge && command._tag === "Observe" ? yield* store.state(streamId) : null
        const result = yield* store.handle(streamId, command, context, handleOptions)
        if (command._tag !== "Observe") return result
        yield* count(metrics.examined)
        const wasNew =
          result._tag === "EventsAppended"
            ? result.nextVersion === result.events.length
            : result._tag === "WouldAppend" && result.version === 0
        const changed =
          (result._tag === "EventsAppended" || result._tag === "WouldAppend") && result.events.length > 0
        if (!changed) return result
        yield* count(wasNew ? metrics.started : metrics.repaired)
        if (before !== null) {
          const since = wasNew ? command.session.created : (before.lastChangeAt ?? command.session.created)
          yield* count(metrics.driftAge, Math.max(0, command.observedAt - since))
        }
        return result
      }),
    runState: {
      ...store.runState,
      quarantine: (entry) => Effect.tap(store.runState.quarantine(entry), () => count(metrics.quarantined)),
    },
  }
}

/**
 * Counts the HTTP requests to `host` and its 429s while the returned function is not called.
 * The Stripe SDK sends through Node's `http`/`https`, whose diagnostics channel sees every answer.
 */
export const countStripeRequests = (host: string, run: RunAttributes): (() => void) => {
  const attributes = attributesOf(run)
  const requests = Metric.withAttributes(metrics.requests, attributes)
  const rateLimited = Metric.withAttributes(metrics.rateLimited, attributes)
  const onFinish = (message: unknown) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage }
    if (request.host !== host) return
    Effect.runSync(Metric.update(requests, 1))
    if (response.statusCode === 429) Effect.runSync(Metric.update(rateLimited, 1))
  }
  diagnostics.subscribe("http.client.response.finish", onFinish)
  return () => diagnostics.unsubscribe("http.client.response.finish", onFinish)
}
