
-- The reconciler's run state, reached only through the store's service (runState): one lease per
-- account (one active run), where each kind of run got to, and the sessions a run could not
-- record, with their error, retried by later runs. The first two tables may already exist (the
-- reconciler created them itself before): they are adopted as they are, with their rows.
create table if not exists {{schema}}.reconciler_leases (
  account text primary key,
  run_id text not null,
  lease_until timestamptz not null
);
create table if not exists {{schema}}.reconciler_cursors (
  account text not null,
  kind text not null check (kind in ('events', 'sweep')),
  cursor jsonb not null,
  updated_at timestamptz not null default now(),
  primary key (account, kind)
);
create table {{schema}}.reconciler_quarantine (
  account text not null,
  session_id text collate "C" not null,
  run_id text not null,
  error_tag text not null,
  message text not null,
  attempts int not null default 1 check (attempts > 0),
  first_at timestamptz not null default now(),
  last_at timestamptz not null default now(),
  primary key (account, session_id)
);
