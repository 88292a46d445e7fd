-- Each reconciliation run's report, kept for the audit views: when and how it ran, whether it went
-- to its end, what it compared, and the drift it found and repaired (or, in a dry run, would have).
-- Written once, when the run ends (runState.recordRun); a run id is recorded at most once.
create table {{schema}}.reconciler_runs (
  run_id text primary key,
  account text not null,
  mode text not null check (mode in ('incremental', 'sweep')),
  dry_run boolean not null,
  started_at timestamptz not null,
  finished_at timestamptz not null,
  complete boolean not null,
  stopped_by text,
  examined integer not null check (examined >= 0),
  started integer not null check (started >= 0),
  repaired integer not null check (repaired >= 0),
  unchanged integer not null check (unchanged >= 0),
  missing_remotely integer not null check (missing_remotely >= 0),
  quarantined integer not null check (quarantined >= 0),
  errors integer not null check (errors >= 0),
  events_by_type jsonb not null default '{}'::jsonb,
  recorded_at timestamptz not null default now()
);
create index reconciler_runs_started on {{schema}}.reconciler_runs (started_at);
