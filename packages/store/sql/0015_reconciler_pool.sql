-- The reconciler's pool (several workers, in any number of processes, over many accounts) and a
-- rate limit shared by every process through Postgres. Reached only through the store's service
-- (runState, `pool-state.ts`).
--
-- A round: every account of a pool's list reconciled once. At most one round of a pool is open;
-- a process joins it (adding its accounts), its workers claim the accounts not yet done (the
-- account's lease in reconciler_leases is the claim, taken with the round's row locked, SKIP
-- LOCKED), and the round is finished when every account in it is done. An account is done in a
-- round when the run that holds its latest claim ended (recorded in reconciler_runs).
create table {{schema}}.reconciler_rounds (
  pool text not null,
  round bigint not null check (round > 0),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  primary key (pool, round)
);
-- One open round per pool: processes starting together join the same one.
create unique index reconciler_rounds_open on {{schema}}.reconciler_rounds (pool) where finished_at is null;
create table {{schema}}.reconciler_round_accounts (
  pool text not null,
  round bigint not null,
  account text not null,
  -- The run holding the latest claim; null until claimed.
  run_id text,
  claims integer not null default 0 check (claims >= 0),
  done_at timestamptz,
  complete boolean,
  primary key (pool, round, account),
  foreign key (pool, round) references {{schema}}.reconciler_rounds (pool, round) on delete cascade
);
-- A token bucket per key (a Stripe account), refilled by whole intervals on the database's clock, so
-- every process and machine draws from one bucket. Same rules as effect's in-memory RateLimiter
-- store (tokenBucket): with allow_overflow the count goes negative, and the caller waits its turn.
create table {{schema}}.reconciler_rate_buckets (
  key text primary key,
  tokens double precision not null,
  last_refill timestamptz not null
);
create function {{schema}}.reconciler_take_tokens(
  p_key text,
  p_tokens double precision,
  p_limit double precision,
  p_refill_ms double precision,
  p_allow_overflow boolean,
  out remaining double precision,
  out elapsed_ms double precision
)
language plpgsql as $$
declare
  v_tokens double precision;
  v_last timestamptz;
  v_now timestamptz;
  v_add double precision;
begin
  insert into {{schema}}.reconciler_rate_buckets as b (key, tokens, last_refill)
    values (p_key, p_limit, clock_timestamp())
    on conflict (key) do nothing;
  select b.tokens, b.last_refill into v_tokens, v_last
    from {{schema}}.reconciler_rate_buckets b where b.key = p_key for update;
  -- Read after the row lock: a caller that waited for it sees the time it got it.
  v_now := clock_timestamp();
  v_add := floor(extract(epoch from (v_now - v_last)) * 1000 / p_refill_ms);
  if v_add > 0 then
    v_tokens := least(p_limit, v_tokens + v_add);
    v_last := v_last + make_interval(secs => v_add * p_refill_ms / 1000);
  end if;
  if v_tokens >= p_limit then
    v_last := v_now;
  end if;
  remaining := v_tokens - p_tokens;
  if p_allow_overflow or remaining >= 0 then
    v_tokens := remaining;
  end if;
  elapsed_ms := greatest(0, extract(epoch from (v_now - v_last)) * 1000);
  update {{schema}}.reconciler_rate_buckets set tokens = v_tokens, last_refill = v_last where key = p_key;
end
$$;
