/**
 * The audit report as one self-contained HTML file: inline CSS, charts as inline SVG, a few lines
 * of inline script for the session search (the page works without it), nothing fetched. Every
 * value from the store is escaped (merchant metadata is free text). Semantic sections, captions
 * and labels; a print stylesheet that prints every timeline.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { type Bar, barChart, escapeHtml, type StackedColumn, stackedColumns } from "./charts.ts"
import type { AuditReportData, ReportSession } from "./report-data.ts"
import { formatTime } from "./timeline.ts"

/** How the page was made: a file, or the live page of `audit serve` (which says where it listens). */
export interface RenderOptions {
  readonly live?: { readonly host: string; readonly port: number } | undefined
}

const fmt = (n: number) => n.toLocaleString("en")

/** Seconds as a short duration: `45 s`, `12 min`, `3.5 h`, `2.1 d`. */
export const formatDuration = (seconds: number | null): string => {
  if (seconds === null) return "–"
  if (seconds < 60) return `${Math.round(seconds)} s`
  if (seconds < 3600) return `${(seconds / 60).toFixed(seconds < 600 ? 1 : 0)} min`
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h`
  return `${(seconds / 86_400).toFixed(1)} d`
}

const table = (
  caption: string,
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
) =>
  `<table><caption>${escapeHtml(caption)}</caption><thead><tr>${headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join("")}</tr></thead>` +
  `<tbody>${rows.length === 0 ? `<tr><td colspan="${headers.length}">none</td></tr>` : rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c ?? "–")}</td>`).join("")}</tr>`).join("")}</tbody></table>`

const section = (id: string, title: string, body: string) =>
  `<section id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">${escapeHtml(title)}</h2>${body}</section>`

const bucketLabel = (from: number, to: number | null) =>
  to === null ? `≥ ${formatDuration(from)}` : `${formatDuration(from)} – ${formatDuration(to)}`

const overview = (d: AuditReportData) => {
  const statuses: ReadonlyArray<Bar> = d.sessionStatuses.map((s) => ({ label: s.status, value: s.sessions }))
  const types: ReadonlyArray<Bar> = d.sessionTypes.map((t) => ({
    label: t.kind ?? "unknown",
    value: t.count,
  }))
  const events: ReadonlyArray<Bar> = d.eventCounts.map((e) => ({
    label: e.kind ?? "unknown",
    value: e.count,
  }))
  return section(
    "overview",
    "Sessions and events",
    `<p>${fmt(d.funnel.created)} sessions created in the window; ${fmt(d.eventCounts.reduce((a, e) => a + e.count, 0))} events with a Stripe time in it.</p>` +
      `<div class="charts"><figure>${barChart("chart-status", "Sessions created in the window, by status now", statuses)}<figcaption>By status now</figcaption></figure>` +
      `<figure>${barChart("chart-type", "Sessions created in the window, by type", types)}<figcaption>By type</figcaption></figure></div>` +
      `<figure>${barChart("chart-events", "Events in the window, by type", events, "#56689e")}<figcaption>Events by type</figcaption></figure>` +
      table(
        "Status changes in the window",
        ["from", "to", "transitions"],
        d.transitions.map((t) => [t.fromStatus ?? "(first seen)", t.toStatus, fmt(t.count)]),
      ),
  )
}

const funnel = (d: AuditReportData) => {
  const f = d.funnel
  const steps: ReadonlyArray<Bar> = [
    { label: "created", value: f.created },
    { label: "submitted", value: f.submitted },
    { label: "verified", value: f.verified },
    { label: "failed a check", value: f.failed },
    { label: "canceled", value: f.canceled },
  ]
  const pct = (n: number) => (f.created === 0 ? "–" : `${((100 * n) / f.created).toFixed(1)} %`)
  return section(
    "funnel",
    "Funnel: created → submitted → verified / failed / canceled",
    `<p>Of the sessions created in the window, how many ever reached each step (a session that failed a check may still have been verified later).</p>` +
      `<figure>${barChart("chart-funnel", "Funnel of the sessions created in the window", steps, "#009e73")}<figcaption>Funnel</figcaption></figure>` +
      table(
        "Funnel",
        ["step", "sessions", "of created"],
        steps.map((s) => [s.label, fmt(s.value), pct(s.value)]),
      ),
  )
}

const timeToVerified = (d: AuditReportData) => {
  const t = d.timeToVerified
  const bars: ReadonlyArray<Bar> = d.histogram.map((b) => ({
    label: bucketLabel(b.from, b.to),
    value: b.sessions,
  }))
  return section(
    "time-to-verified",
    "Time to verified",
    `<p>From Stripe's <code>created</code> to the verification, on Stripe's clock, for the sessions verified in the window.</p>` +
      `<dl class="figures"><div><dt>measured</dt><dd id="ttv-sessions">${fmt(t.sessions)}</dd></div>` +
      `<div><dt>p50</dt><dd id="ttv-p50">${formatDuration(t.p50)}</dd></div><div><dt>p90</dt><dd id="ttv-p90">${formatDuration(t.p90)}</dd></div>` +
      `<div><dt>p99</dt><dd id="ttv-p99">${formatDuration(t.p99)}</dd></div>` +
      `<div><dt>time unknown</dt><dd id="ttv-unknown">${fmt(t.transitionTimeUnknown)}</dd></div></dl>` +
      `<p class="note">“Time unknown”: verified sessions first seen already verified (by a sweep) or seen verified by a read, so the moment of verification is not known; they are left out of the percentiles and the histogram.</p>` +
      `<figure>${barChart("chart-ttv", "Time to verified, histogram", bars, "#0072b2")}<figcaption>Sessions per duration</figcaption></figure>`,
  )
}

const failures = (d: AuditReportData) => {
  const codes = [...new Set(d.failuresByDay.map((f) => f.code ?? "no code"))].sort()
  const days = new Map<string, Map<string, number>>()
  for (const f of d.failuresByDay) {
    const day = days.get(f.day) ?? new Map<string, number>()
    day.set(f.code ?? "no code", f.count)
    days.set(f.day, day)
  }
  // Every day from the first failure to the last, the quiet ones too, so the axis is time.
  const sorted = [...days.keys()].sort()
  const columns: Array<StackedColumn> = []
  if (sorted.length > 0)
    for (let t = Date.parse(sorted[0]!); t <= Date.parse(sorted[sorted.length - 1]!); t += 86_400_000) {
      const label = new Date(t).toISOString().slice(0, 10)
      columns.push({ label, values: days.get(label) ?? new Map() })
    }
  return section(
    "failures",
    "Failed checks by reason over time",
    `<figure>${stackedColumns("chart-failures", "Failed checks per day (UTC), by code", codes, columns)}<figcaption>Failed checks per day, by code</figcaption></figure>` +
      table(
        "Failed checks by code",
        ["code", "failed checks"],
        d.failureReasons.map((f) => [f.code ?? "no code", fmt(f.count)]),
      ),
  )
}

const redactions = (d: AuditReportData) => {
  const count = (kind: string) => d.redactions.filter((r) => r.redaction === kind).length
  return section(
    "redactions",
    "Redactions",
    `<p>Every session of the report's accounts (not only this window's), now: ${fmt(count("redacted"))} redacted, ${fmt(count("pending"))} being redacted at Stripe, ${fmt(count("requested"))} requested here and not started at Stripe yet. idtrail records no personal data, so a redaction erases nothing from this log; the log keeps that it happened.</p>` +
      table(
        "Redacted sessions",
        ["session", "status", "redaction", "Stripe's redaction status", "requested (Stripe time)"],
        d.redactions
          .slice(0, 1000)
          .map((r) => [
            r.sessionId,
            r.status,
            r.redaction,
            r.redactionStatus,
            r.requestedAt === null ? null : formatTime(r.requestedAt),
          ]),
      ),
  )
}

const runs = (d: AuditReportData) => {
  const bars: ReadonlyArray<Bar> = d.runs.map((r) => ({ label: r.runId, value: r.started + r.repaired }))
  return section(
    "runs",
    "Reconciler runs",
    `<p>Runs that started in the window. Drift found: sessions missing here (recorded) plus sessions whose record differed from Stripe (repaired). Dry runs are not recorded.</p>` +
      `<figure>${barChart("chart-runs", "Drift found and repaired per run", bars, "#d55e00")}<figcaption>Drift repaired per run</figcaption></figure>` +
      table(
        "Reconciler runs",
        [
          "run",
          "mode",
          "started",
          "finished",
          "outcome",
          "compared",
          "missing here, recorded",
          "drift repaired",
          "missing at Stripe",
          "quarantined",
          "errors",
        ],
        d.runs.map((r) => [
          r.runId,
          r.mode,
          formatTime(r.startedAt),
          formatTime(r.finishedAt),
          r.stoppedBy !== null ? `stopped: ${r.stoppedBy}` : r.complete ? "complete" : "incomplete",
          fmt(r.examined),
          fmt(r.started),
          fmt(r.repaired),
          fmt(r.missingRemotelyCount),
          fmt(r.quarantinedCount),
          fmt(r.errorCount),
        ]),
      ),
  )
}

const metadataText = (m: Readonly<Record<string, string>>) =>
  Object.entries(m)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ")

const sessions = (d: AuditReportData) => {
  const rows = d.sessions.map(
    (s: ReportSession, i) =>
      `<tr data-session-id="${escapeHtml(s.row.sessionId)}"><th scope="row"><a href="#t-${i}">${escapeHtml(s.row.sessionId)}</a></th>` +
      `<td>${escapeHtml(s.row.status ?? "unknown")}</td><td>${escapeHtml(s.row.type ?? "–")}</td>` +
      `<td>${s.row.created === null ? "–" : formatTime(s.row.created)}</td><td>${escapeHtml(s.row.lastErrorCode ?? "–")}</td>` +
      `<td>${fmt(s.row.events)}</td><td>${escapeHtml(metadataText(s.row.metadata))}</td></tr>`,
  )
  const more =
    d.funnel.created > d.sessions.length
      ? ` (the first ${fmt(d.sessions.length)} of ${fmt(d.funnel.created)}; export the rest)`
      : ""
  return section(
    "sessions",
    "Sessions",
    `<p class="search"><label for="session-search">Search sessions (id, status, type, error code, metadata)</label> ` +
      `<input type="search" id="session-search" autocomplete="off"> <output id="session-count" for="session-search" aria-live="polite">${fmt(d.sessions.length)} shown</output></p>` +
      `<table id="session-table"><caption>Sessions created in the window${escapeHtml(more)}; each links to its timeline</caption>` +
      `<thead><tr><th scope="col">session</th><th scope="col">status</th><th scope="col">type</th><th scope="col">created</th><th scope="col">last error</th><th scope="col">events</th><th scope="col">metadata</th></tr></thead>` +
      `<tbody>${rows.join("")}</tbody></table>`,
  )
}

const timelines = (d: AuditReportData) =>
  section(
    "timelines",
    "Timelines",
    `<p class="screen-only">Choose a session above to see its timeline here.</p>` +
      d.sessions
        .map(
          (s, i) =>
            `<section class="timeline" id="t-${i}" aria-labelledby="t-${i}-h"><h3 id="t-${i}-h">${escapeHtml(s.row.sessionId)}</h3>` +
            table(
              `Timeline of ${s.row.sessionId}`,
              ["v", "Stripe time", "recorded", "source", "actor", "event", "what changed"],
              s.timeline.map((e) => [
                e.version,
                formatTime(e.at),
                formatTime(e.recordedAt),
                e.source,
                e.actor,
                e.type,
                e.change,
              ]),
            ) +
            `<p><a href="#sessions">Back to the sessions</a></p></section>`,
        )
        .join(""),
  )

const style = `
:root{color:#1a1a1a;background:#fff;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
body{max-width:1100px;margin:0 auto;padding:0 16px 48px}
h1{font-size:1.6rem;margin:24px 0 4px}h2{font-size:1.25rem;border-bottom:2px solid #0072b2;padding-bottom:4px;margin-top:36px}
a{color:#0b5394}a:focus,input:focus{outline:3px solid #e69f00;outline-offset:2px}
nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;padding:0}
table{border-collapse:collapse;margin:12px 0;width:100%;font-size:.9rem}caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}thead th{background:#eef3f8}
figure{margin:12px 0}figcaption{font-size:.85rem;color:#444}.charts{display:flex;flex-wrap:wrap;gap:16px}
svg.chart{max-width:100%;height:auto;font:12px system-ui,sans-serif}svg.chart text{fill:#1a1a1a}
dl.figures{display:flex;flex-wrap:wrap;gap:12px}dl.figures div{border:1px solid #ccc;border-radius:4px;padding:6px 12px}dt{font-size:.8rem;color:#444}dd{margin:0;font-size:1.2rem;font-weight:600}
.note,.meta{color:#444;font-size:.9rem}input[type=search]{font:inherit;padding:4px 8px;border:1px solid #666;border-radius:4px;min-width:18rem}
.timeline{display:none;border-left:4px solid #0072b2;padding-left:12px}.timeline:target{display:block}
.live{background:#fff4d6;border:1px solid #8a6d00;padding:8px 12px}
@media print{nav,.search,.screen-only,.live form{display:none}.timeline{display:block;break-inside:avoid-page}a{color:inherit;text-decoration:none}body{max-width:none}h2{break-after:avoid}figure,table{break-inside:avoid}}
`

// Filters the session table as the user types; without script every session stays listed.
const script = `
(function(){var input=document.getElementById("session-search"),out=document.getElementById("session-count");
var rows=[].slice.call(document.querySelectorAll("#session-table tbody tr"));
input.addEventListener("input",function(){var q=input.value.trim().toLowerCase(),n=0;
rows.forEach(function(r){var hit=q===""||r.textContent.toLowerCase().indexOf(q)!==-1;r.hidden=!hit;if(hit)n++});
out.textContent=n.toLocaleString("en")+" shown"})})();
`

/**
 * The page's content security policy: nothing loaded from anywhere, only this page's own style
 * and its one script (by hash), forms only back to where it came from. Also sent as a header by
 * `audit serve`.
 */
export const contentSecurityPolicy = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${createHash("sha256").update(script).digest("base64")}'; form-action 'self'; base-uri 'none'`

const liveNotice = (d: AuditReportData, live: NonNullable<RenderOptions["live"]>) =>
  `<div class="live" role="note"><p>Live from the database, read-only, served on ${escapeHtml(live.host)}:${live.port}${live.host === "127.0.0.1" ? " (this machine only)" : ""}.</p>` +
  `<form method="get" action="/"><label for="from">From</label> <input id="from" name="from" type="date" value="${d.window.from.toISOString().slice(0, 10)}"> ` +
  `<label for="to">to</label> <input id="to" name="to" type="date" value="${d.window.to.toISOString().slice(0, 10)}"> ` +
  // The page's account and mode go with the form, so a new window keeps them.
  (d.filter.account === undefined
    ? ""
    : `<input type="hidden" name="account" value="${escapeHtml(d.filter.account)}">`) +
  (d.filter.livemode === undefined
    ? ""
    : `<input type="hidden" name="livemode" value="${d.filter.livemode}">`) +
  `<button type="submit">Show</button></form></div>`

/** The report as a complete HTML document. */
export const renderReportHtml = (d: AuditReportData, options: RenderOptions = {}): string => {
  const windowText = `${formatTime(d.window.from)} to ${formatTime(d.window.to)}`
  const { account, livemode } = d.filter
  const scope =
    account === undefined && livemode === undefined
      ? "Every account, both modes."
      : `Account ${account ?? "(every)"}, ${livemode === undefined ? "both modes" : livemode ? "live mode" : "test mode"}.`
  const nav = [
    ["overview", "Sessions and events"],
    ["funnel", "Funnel"],
    ["time-to-verified", "Time to verified"],
    ["failures", "Failures"],
    ["redactions", "Redactions"],
    ["runs", "Reconciler runs"],
    ["sessions", "Sessions"],
  ]
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy)}">` +
    `<title>idtrail audit report, ${escapeHtml(windowText)}</title><style>${style}</style></head><body>` +
    `<header><h1>idtrail audit report</h1><p class="meta">Stripe time from ${escapeHtml(windowText)} (the end excluded). ${escapeHtml(scope)} Generated ${formatTime(d.generatedAt)}.</p>` +
    (options.live === undefined ? "" : liveNotice(d, options.live)) +
    `<nav aria-label="Sections"><ul>${nav.map(([id, label]) => `<li><a href="#${id}">${label}</a></li>`).join("")}</ul></nav></header>` +
    `<main>${overview(d)}${funnel(d)}${timeToVerified(d)}${failures(d)}${redactions(d)}${runs(d)}${sessions(d)}${timelines(d)}</main>` +
    `<footer class="meta"><p>Made by idtrail from its event log. Windows are half-open on Stripe's clock; runs by when they started.</p></footer>` +
    `<script>${script}</script></body></html>`
  )
}
