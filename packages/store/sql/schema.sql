-- The store's schema after every migration, read back from the catalog; {{schema}} is the
-- schema's name. Generated: `pnpm --filter @idtrail/store run schema:snapshot`; never edit by hand.
-- Which migration defines each live function: see the store's README, "SQL schema".

-- tables

create table {{schema}}.events (
  position bigint generated always as identity not null,
  stream_id text collate "C" not null,
  stream_version bigint not null,
  type text not null,
  data jsonb not null,
  metadata jsonb not null,
  stripe_event_id text collate "C",
  transaction_id xid8 not null default pg_current_xact_id(),
  recorded_at timestamp with time zone not null default now(),
  constraint events_pkey PRIMARY KEY (stream_id, stream_version)
);
comment on table {{schema}}.events is 'The append-only event log of VerificationSessions. Read in global order by (transaction_id, position), only below pg_snapshot_xmin(pg_current_snapshot()).';

create table {{schema}}.key_encryption_check (
  kek_id text not null,
  wrapped_check bytea not null,
  created_at timestamp with time zone not null default now(),
  constraint key_encryption_check_pkey PRIMARY KEY (kek_id)
);

create table {{schema}}.projection_checkpoints (
  name text not null,
  transaction_id xid8 not null,
  position bigint not null,
  updated_at timestamp with time zone not null default now(),
  constraint projection_checkpoints_pkey PRIMARY KEY (name)
);

create table {{schema}}.reconciler_cursors (
  account text not null,
  kind text not null,
  cursor jsonb not null,
  updated_at timestamp with time zone not null default now(),
  constraint reconciler_cursors_kind_check CHECK ((kind = ANY (ARRAY['events'::text, 'sweep'::text]))),
  constraint reconciler_cursors_pkey PRIMARY KEY (account, kind)
);

create table {{schema}}.reconciler_leases (
  account text not null,
  run_id text not null,
  lease_until timestamp with time zone not null,
  constraint reconciler_leases_pkey PRIMARY KEY (account)
);

create table {{schema}}.reconciler_quarantine (
  account text not null,
  session_id text collate "C" not null,
  run_id text not null,
  error_tag text not null,
  message text not null,
  attempts integer not null default 1,
  first_at timestamp with time zone not null default now(),
  last_at timestamp with time zone not null default now(),
  constraint reconciler_quarantine_attempts_check CHECK ((attempts > 0)),
  constraint reconciler_quarantine_pkey PRIMARY KEY (account, session_id)
);

create table {{schema}}.reconciler_rate_buckets (
  key text not null,
  tokens double precision not null,
  last_refill timestamp with time zone not null,
  constraint reconciler_rate_buckets_pkey PRIMARY KEY (key)
);

create table {{schema}}.reconciler_round_accounts (
  pool text not null,
  round bigint not null,
  account text not null,
  run_id text,
  claims integer not null default 0,
  done_at timestamp with time zone,
  complete boolean,
  constraint reconciler_round_accounts_claims_check CHECK ((claims >= 0)),
  constraint reconciler_round_accounts_pkey PRIMARY KEY (pool, round, account),
  constraint reconciler_round_accounts_pool_round_fkey FOREIGN KEY (pool, round) REFERENCES {{schema}}.reconciler_rounds(pool, round) ON DELETE CASCADE
);

create table {{schema}}.reconciler_rounds (
  pool text not null,
  round bigint not null,
  started_at timestamp with time zone not null default now(),
  finished_at timestamp with time zone,
  constraint reconciler_rounds_pkey PRIMARY KEY (pool, round),
  constraint reconciler_rounds_round_check CHECK ((round > 0))
);

create table {{schema}}.reconciler_runs (
  run_id text not null,
  account text not null,
  mode text not null,
  dry_run boolean not null,
  started_at timestamp with time zone not null,
  finished_at timestamp with time zone not null,
  complete boolean not null,
  stopped_by text,
  examined integer not null,
  started integer not null,
  repaired integer not null,
  unchanged integer not null,
  missing_remotely integer not null,
  quarantined integer not null,
  errors integer not null,
  events_by_type jsonb not null default '{}'::jsonb,
  recorded_at timestamp with time zone not null default now(),
  constraint reconciler_runs_errors_check CHECK ((errors >= 0)),
  constraint reconciler_runs_examined_check CHECK ((examined >= 0)),
  constraint reconciler_runs_missing_remotely_check CHECK ((missing_remotely >= 0)),
  constraint reconciler_runs_mode_check CHECK ((mode = ANY (ARRAY['incremental'::text, 'sweep'::text]))),
  constraint reconciler_runs_pkey PRIMARY KEY (run_id),
  constraint reconciler_runs_quarantined_check CHECK ((quarantined >= 0)),
  constraint reconciler_runs_repaired_check CHECK ((repaired >= 0)),
  constraint reconciler_runs_started_check CHECK ((started >= 0)),
  constraint reconciler_runs_unchanged_check CHECK ((unchanged >= 0))
);

create table {{schema}}.session_erasures (
  session_id text collate "C" not null,
  erased_at timestamp with time zone not null default now(),
  actor jsonb not null,
  reason text not null,
  constraint session_erasures_pkey PRIMARY KEY (session_id)
);

create table {{schema}}.session_keys (
  session_id text collate "C" not null,
  wrapped_key bytea not null,
  kek_id text not null,
  created_at timestamp with time zone not null default now(),
  constraint session_keys_pkey PRIMARY KEY (session_id)
);

create table {{schema}}.vault (
  session_id text collate "C" not null,
  kind text not null,
  fields text[] not null,
  value text not null,
  kept_at timestamp with time zone not null default now(),
  expires_at timestamp with time zone not null,
  constraint vault_kind_check CHECK ((kind = ANY (ARRAY['verified_outputs'::text, 'provided_details'::text]))),
  constraint vault_pkey PRIMARY KEY (session_id, kind),
  constraint vault_session_id_fkey FOREIGN KEY (session_id) REFERENCES {{schema}}.session_keys(session_id) ON DELETE CASCADE
);

create table {{schema}}.verification_sessions (
  session_id text collate "C" not null,
  status text,
  redaction_status text,
  last_error_code text,
  type text,
  livemode boolean,
  created timestamp with time zone,
  metadata jsonb not null default '{}'::jsonb,
  version bigint not null,
  needs_refresh boolean not null default false,
  last_change_at timestamp with time zone,
  updated_at timestamp with time zone not null default now(),
  state json not null,
  confirmed_at bigint,
  account text collate "C" not null default 'default'::text,
  constraint verification_sessions_pkey PRIMARY KEY (session_id)
) with (fillfactor=50);

-- indexes

CREATE INDEX events_global_order ON {{schema}}.events USING btree (transaction_id, "position");

CREATE UNIQUE INDEX events_stripe_event_id ON {{schema}}.events USING btree (stripe_event_id) WHERE (stripe_event_id IS NOT NULL);

CREATE UNIQUE INDEX reconciler_rounds_open ON {{schema}}.reconciler_rounds USING btree (pool) WHERE (finished_at IS NULL);

CREATE INDEX reconciler_runs_started ON {{schema}}.reconciler_runs USING btree (started_at);

CREATE INDEX vault_expires_at ON {{schema}}.vault USING btree (expires_at);

CREATE INDEX verification_sessions_account_created ON {{schema}}.verification_sessions USING btree (account, created, session_id);

CREATE INDEX verification_sessions_created ON {{schema}}.verification_sessions USING btree (created, session_id);

-- views

create view {{schema}}.session_counts_by_status as
 SELECT status,
    count(*) AS sessions
   FROM {{schema}}.verification_sessions v
  GROUP BY status;

create view {{schema}}.session_failures as
 SELECT session_id,
    "position",
        CASE
            WHEN type = 'SessionStarted'::text THEN ((data -> 'facts'::text) -> 'lastError'::text) ->> 'code'::text
            ELSE data ->> 'code'::text
        END AS code,
        CASE
            WHEN type = 'SessionStarted'::text THEN ((data -> 'facts'::text) -> 'lastError'::text) ->> 'reason'::text
            ELSE data ->> 'reason'::text
        END AS reason,
    to_timestamp(at_s::double precision) AS at,
    recorded_at
   FROM {{schema}}.session_steps t
  WHERE to_status = 'requires_input'::text AND kind <> 'created'::text AND NOT replaced AND (type = ANY (ARRAY['VerificationFailed'::text, 'SessionStarted'::text]));

create view {{schema}}.session_history as
 SELECT stream_id AS session_id,
    stream_version AS version,
    "position",
    type,
    to_timestamp(((data ->> 'at'::text)::bigint)::double precision) AS at,
    recorded_at,
    metadata ->> 'source'::text AS source,
    metadata ->> 'stripeEventId'::text AS stripe_event_id,
    metadata ->> 'stripeEventType'::text AS stripe_event_type,
    to_timestamp(((metadata ->> 'observedAt'::text)::bigint)::double precision) AS observed_at,
    metadata ->> 'causationId'::text AS causation_id,
    metadata ->> 'correlationId'::text AS correlation_id,
    (metadata -> 'actor'::text) ->> 'kind'::text AS actor_kind,
    (metadata -> 'actor'::text) ->> 'id'::text AS actor_id,
    data,
    metadata
   FROM {{schema}}.events e;

create view {{schema}}.session_redactions as
 SELECT v.session_id,
    v.status,
    v.redaction_status,
        CASE
            WHEN v.redaction_status = 'redacted'::text THEN 'redacted'::text
            WHEN v.redaction_status IS NOT NULL THEN 'pending'::text
            ELSE 'requested'::text
        END AS redaction,
    r.requested_at,
    v.last_change_at
   FROM {{schema}}.verification_sessions v
     LEFT JOIN ( SELECT e.stream_id,
            max(to_timestamp(((e.data ->> 'at'::text)::bigint)::double precision)) AS requested_at
           FROM {{schema}}.events e
          WHERE e.type = 'RedactionRequested'::text
          GROUP BY e.stream_id) r ON r.stream_id = v.session_id
  WHERE v.redaction_status IS NOT NULL OR r.stream_id IS NOT NULL;

create view {{schema}}.session_status_intervals as
 SELECT session_id,
    to_status AS status,
    at AS valid_from,
    lead(at) OVER (PARTITION BY session_id ORDER BY at, version) AS valid_until,
    recorded_at AS recorded_from,
    lead(recorded_at) OVER (PARTITION BY session_id ORDER BY at, version) AS recorded_until,
    version
   FROM {{schema}}.session_transitions t
  WHERE from_status IS DISTINCT FROM to_status;

create view {{schema}}.session_steps as
 SELECT e.stream_id AS session_id,
    e.stream_version AS version,
    e."position",
    e.type,
    {{schema}}.step_status(e.type, e.data) AS to_status,
    {{schema}}.step_kind(e.type, e.data) AS kind,
    (e.data ->> 'at'::text)::bigint AS at_s,
    e.recorded_at,
    e.metadata ->> 'source'::text AS source,
    (e.metadata -> 'actor'::text) ->> 'kind'::text AS actor_kind,
    (e.metadata -> 'actor'::text) ->> 'id'::text AS actor_id,
    COALESCE((e.data ->> 'late'::text)::boolean, false) AS late,
    f.filled_in,
    (e.data ->> 'confirms'::text)::bigint AS confirms,
    f.filled_in AND (EXISTS ( SELECT 1
           FROM {{schema}}.events c
          WHERE c.stream_id = e.stream_id AND c.stream_version > e.stream_version AND c.data ? 'confirms'::text AND ((c.data ->> 'confirms'::text)::bigint) = ((e.data ->> 'at'::text)::bigint) AND {{schema}}.step_kind(c.type, c.data) = {{schema}}.step_kind(e.type, e.data))) AS replaced,
    e.data,
    e.metadata
   FROM {{schema}}.events e
     CROSS JOIN LATERAL ( SELECT
                CASE
                    WHEN e.type = 'SessionStarted'::text THEN (e.data ->> 'stripeEventType'::text) IS DISTINCT FROM ('identity.verification_session.'::text || {{schema}}.step_kind(e.type, e.data))
                    ELSE e.data ? 'since'::text
                END AS filled_in) f
  WHERE e.type = ANY (ARRAY['SessionStarted'::text, 'SessionSubmitted'::text, 'SessionVerified'::text, 'VerificationFailed'::text, 'SessionCanceled'::text, 'SessionResynced'::text]);

create view {{schema}}.session_transitions as
 SELECT session_id,
    version,
    "position",
    type,
    lag(to_status) OVER (PARTITION BY session_id ORDER BY at_s, version) AS from_status,
    to_status,
    to_timestamp(at_s::double precision) AS at,
    recorded_at,
    source,
    actor_kind,
    actor_id
   FROM {{schema}}.session_steps t
  WHERE NOT replaced;

create view {{schema}}.session_verification_times as
 SELECT v.session_id,
    v.created,
    f.verified_at,
        CASE
            WHEN f.verified_at_known THEN EXTRACT(epoch FROM f.verified_at - v.created)::double precision
            ELSE NULL::double precision
        END AS seconds,
    f.verified_at_known
   FROM {{schema}}.verification_sessions v
     JOIN ( SELECT DISTINCT ON (t.session_id) t.session_id,
            t.at AS verified_at,
            COALESCE((e.metadata ->> 'stripeEventType'::text) = 'identity.verification_session.verified'::text, false) AS verified_at_known
           FROM {{schema}}.session_transitions t
             JOIN {{schema}}.events e ON e.stream_id = t.session_id AND e.stream_version = t.version
          WHERE t.to_status = 'verified'::text
          ORDER BY t.session_id, t.at, t.version) f ON f.session_id = v.session_id;

-- functions

CREATE OR REPLACE FUNCTION {{schema}}.append_batch(p_stream_ids text[], p_expected_versions bigint[], p_stripe_event_ids text[], p_types text[], p_events jsonb[], p_metadata jsonb[], p_states json[], p_status text[], p_redaction_status text[], p_last_error_code text[], p_session_type text[], p_livemode boolean[], p_created bigint[], p_session_metadata jsonb[], p_needs_refresh boolean[], p_last_change_at bigint[], p_confirmed_at bigint[], p_confirmed_seen bigint[], OUT ord integer, OUT outcome text, OUT version bigint, OUT positions bigint[])
 RETURNS SETOF record
 LANGUAGE plpgsql
AS $function$
declare
  v_locked text[] := '{}';
  v_id text;
begin
  -- One primary-key lookup per stream, in stream order (the rows' own collation, so every batch
  -- locks in the same order). Not `session_id = any(p_stream_ids)`: PL/pgSQL keeps that
  -- statement's plan for the connection's life, and a plan made while the table was small is a
  -- sequential scan that every later batch pays in full (2-4x slower than no grouping at 10,000+
  -- sessions). An equality on the key is an index lookup whatever the table's size.
  for v_id in select distinct s.id collate "C" from unnest(p_stream_ids) s(id) order by 1 loop
    perform 1 from {{schema}}.verification_sessions v where v.session_id = v_id for update skip locked;
    if found then
      v_locked := v_locked || v_id;
    end if;
  end loop;
  for i in 1 .. coalesce(array_length(p_stream_ids, 1), 0) loop
    ord := i;
    if p_stream_ids[i] <> all(v_locked)
       and exists (select 1 from {{schema}}.verification_sessions v where v.session_id = p_stream_ids[i]) then
      outcome := 'busy';
      version := null;
      positions := null;
    elsif p_types[i] is null then
      select a.outcome, a.version, a.positions into outcome, version, positions
        from {{schema}}.append_to_stream(p_stream_ids[i], p_expected_versions[i], p_stripe_event_ids[i],
                                   p_events[i], p_metadata[i], p_states[i]::jsonb,
                                   p_confirmed_seen[i]) a;
    else
      select a.outcome, a.version, case when a.event_position is null then null else array[a.event_position] end
        into outcome, version, positions
        from {{schema}}.append_one(p_stream_ids[i], p_expected_versions[i], p_stripe_event_ids[i],
                             p_types[i], p_events[i], p_metadata[i], p_states[i], p_status[i],
                             p_redaction_status[i], p_last_error_code[i], p_session_type[i],
                             p_livemode[i], p_created[i], p_session_metadata[i], p_needs_refresh[i],
                             p_last_change_at[i], p_confirmed_at[i], p_confirmed_seen[i]) a;
    end if;
    -- A row this batch created (or put back) is its own for the later appends to the stream.
    if outcome = 'appended' and p_stream_ids[i] <> all(v_locked) then
      v_locked := v_locked || p_stream_ids[i];
    end if;
    return next;
  end loop;
end
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.append_one(p_stream_id text, p_expected_version bigint, p_stripe_event_id text, p_type text, p_event jsonb, p_metadata jsonb, p_state json, p_status text, p_redaction_status text, p_last_error_code text, p_session_type text, p_livemode boolean, p_created bigint, p_session_metadata jsonb, p_needs_refresh boolean, p_last_change_at bigint, p_confirmed_at bigint DEFAULT NULL::bigint, p_confirmed_seen bigint DEFAULT NULL::bigint, OUT outcome text, OUT version bigint, OUT event_position bigint)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
begin
  if p_stripe_event_id is not null
     and exists (select 1 from {{schema}}.events e where e.stripe_event_id = p_stripe_event_id) then
    outcome := 'duplicate';
    return;
  end if;
  if p_expected_version > 0 then
    update {{schema}}.verification_sessions as v set
      status = p_status,
      redaction_status = p_redaction_status,
      last_error_code = p_last_error_code,
      type = p_session_type,
      livemode = p_livemode,
      created = to_timestamp(p_created),
      metadata = coalesce(p_session_metadata, '{}'),
      version = p_expected_version + 1,
      needs_refresh = coalesce(p_needs_refresh, false),
      last_change_at = to_timestamp(p_last_change_at),
      updated_at = now(),
      state = p_state,
      confirmed_at = greatest(v.confirmed_at, p_confirmed_at)
    where v.session_id = p_stream_id and v.version = p_expected_version
      and (p_confirmed_seen is null or coalesce(v.confirmed_at, 0) <= p_confirmed_seen);
    if found then
      insert into {{schema}}.events (stream_id, stream_version, type, data, metadata, stripe_event_id)
      values (p_stream_id, p_expected_version + 1, p_type, p_event, p_metadata, p_stripe_event_id)
      returning {{schema}}.events.position into event_position;
      outcome := 'appended';
      version := p_expected_version + 1;
      return;
    end if;
  else
    insert into {{schema}}.verification_sessions (
      session_id, status, redaction_status, last_error_code, type, livemode, created, metadata,
      needs_refresh, last_change_at, state, confirmed_at, version, updated_at)
    values (p_stream_id, p_status, p_redaction_status, p_last_error_code, p_session_type, p_livemode,
            to_timestamp(p_created), coalesce(p_session_metadata, '{}'), coalesce(p_needs_refresh, false),
            to_timestamp(p_last_change_at), p_state, p_confirmed_at, 1, now())
    on conflict (session_id) do nothing;
    if found then
      insert into {{schema}}.events (stream_id, stream_version, type, data, metadata, stripe_event_id)
      values (p_stream_id, 1, p_type, p_event, p_metadata, p_stripe_event_id)
      on conflict (stream_id, stream_version) do nothing
      returning {{schema}}.events.position into event_position;
      if found then
        outcome := 'appended';
        version := 1;
        return;
      end if;
      -- The log has this stream although its row was gone: the general append decides from the log.
      delete from {{schema}}.verification_sessions v where v.session_id = p_stream_id;
    end if;
  end if;
  -- A lost race or a missing row: nothing is written; the general append decides.
  select a.outcome, a.version, a.positions[1] into outcome, version, event_position
    from {{schema}}.append_to_stream(p_stream_id, p_expected_version, p_stripe_event_id,
                               jsonb_build_array(p_event), p_metadata, p_state::jsonb,
                               p_confirmed_seen) a;
end
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.append_to_stream(p_stream_id text, p_expected_version bigint, p_stripe_event_id text, p_events jsonb, p_metadata jsonb, p_state jsonb, p_confirmed_seen bigint DEFAULT NULL::bigint, OUT outcome text, OUT version bigint, OUT positions bigint[])
 RETURNS record
 LANGUAGE plpgsql
AS $function$
declare
  v_count int := jsonb_array_length(p_events);
  v_version bigint := p_expected_version + jsonb_array_length(p_events);
  v_position bigint;
  v_won boolean := false;
begin
  if p_stripe_event_id is not null
     and exists (select 1 from {{schema}}.events e where e.stripe_event_id = p_stripe_event_id) then
    outcome := 'duplicate';
    return;
  end if;

  if p_expected_version > 0 then
    if p_state is null then
      -- No folded state: move the version only; readers fold the stream past the row's state.
      update {{schema}}.verification_sessions as v set version = v_version, updated_at = now()
       where v.session_id = p_stream_id and v.version = p_expected_version
    and (p_confirmed_seen is null or coalesce(v.confirmed_at, 0) <= p_confirmed_seen);
    else

  update {{schema}}.verification_sessions as v set
    status = p_state->'facts'->>'status',
    redaction_status = p_state->'facts'->>'redactionStatus',
    last_error_code = p_state->'facts'->'lastError'->>'code',
    type = p_state->'facts'->>'type',
    livemode = (p_state->'facts'->>'livemode')::boolean,
    created = to_timestamp((p_state->'facts'->>'created')::bigint),
    metadata = coalesce(p_state->'facts'->'metadata', '{}'),
    needs_refresh = coalesce((p_state->>'needsRefresh')::boolean, false),
    last_change_at = to_timestamp((p_state->>'lastChangeAt')::bigint),
    state = coalesce(p_state, '{}'::jsonb),
    confirmed_at = greatest(v.confirmed_at, (p_state->>'confirmedAt')::bigint),
    version = v_version,
    updated_at = now()
  where v.session_id = p_stream_id and v.version = p_expected_version
    and (p_confirmed_seen is null or coalesce(v.confirmed_at, 0) <= p_confirmed_seen);
    end if;
    v_won := found;
  elsif not exists (select 1 from {{schema}}.events e where e.stream_id = p_stream_id) then

  insert into {{schema}}.verification_sessions as v (
    session_id, status, redaction_status, last_error_code, type, livemode, created, metadata, needs_refresh, last_change_at, state, confirmed_at, version, updated_at)
  values (p_stream_id, p_state->'facts'->>'status', p_state->'facts'->>'redactionStatus', p_state->'facts'->'lastError'->>'code', p_state->'facts'->>'type', (p_state->'facts'->>'livemode')::boolean, to_timestamp((p_state->'facts'->>'created')::bigint), coalesce(p_state->'facts'->'metadata', '{}'), coalesce((p_state->>'needsRefresh')::boolean, false), to_timestamp((p_state->>'lastChangeAt')::bigint), coalesce(p_state, '{}'::jsonb), (p_state->>'confirmedAt')::bigint, v_version, now())
  on conflict (session_id) do nothing;
    v_won := found;
  end if;

  if not v_won then
    select v.version into version from {{schema}}.verification_sessions v where v.session_id = p_stream_id;
    if not found then
      -- The stream has no session row (deleted outside the store): the log says where it is, and
      -- a writer that agrees puts the row back (the row's unique key decides between two).
      version := coalesce((select max(e.stream_version) from {{schema}}.events e where e.stream_id = p_stream_id), 0);
      if version = p_expected_version then

  insert into {{schema}}.verification_sessions as v (
    session_id, status, redaction_status, last_error_code, type, livemode, created, metadata, needs_refresh, last_change_at, state, confirmed_at, version, updated_at)
  values (p_stream_id, p_state->'facts'->>'status', p_state->'facts'->>'redactionStatus', p_state->'facts'->'lastError'->>'code', p_state->'facts'->>'type', (p_state->'facts'->>'livemode')::boolean, to_timestamp((p_state->'facts'->>'created')::bigint), coalesce(p_state->'facts'->'metadata', '{}'), coalesce((p_state->>'needsRefresh')::boolean, false), to_timestamp((p_state->>'lastChangeAt')::bigint), coalesce(p_state, '{}'::jsonb), (p_state->>'confirmedAt')::bigint, v_version, now())
  on conflict (session_id) do nothing;
        v_won := found;
        if not v_won then
          select v.version into version from {{schema}}.verification_sessions v where v.session_id = p_stream_id;
        end if;
      end if;
    end if;
    if not v_won then
      outcome := 'conflict';
      version := coalesce(version, 0);
      return;
    end if;
  end if;

  if v_count = 1 then
    insert into {{schema}}.events (stream_id, stream_version, type, data, metadata, stripe_event_id)
    values (p_stream_id, v_version, p_events->0->>'_tag', p_events->0, p_metadata, p_stripe_event_id)
    returning position into v_position;
    positions := array[v_position];
  else
    with inserted as (
      insert into {{schema}}.events (stream_id, stream_version, type, data, metadata, stripe_event_id)
      select p_stream_id, p_expected_version + e.ord, e.value->>'_tag', e.value, p_metadata,
             case when e.ord = 1 then p_stripe_event_id end
        from jsonb_array_elements(p_events) with ordinality as e(value, ord)
       order by e.ord
      returning {{schema}}.events.position
    )
    select array_agg(i.position order by i.position) into positions from inserted i;
  end if;
  outcome := 'appended';
  version := v_version;
end
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.project_session(p_session_id text, p_version bigint, p_state jsonb)
 RETURNS void
 LANGUAGE sql
AS $function$
  with c as (
    select greatest((p_state->>'confirmedAt')::bigint,
                    (select max((e.metadata->>'observedAt')::bigint) from {{schema}}.events e
                      where e.stream_id = p_session_id and e.metadata->>'source' in ('api', 'reconciler')),
                    (select v.confirmed_at from {{schema}}.verification_sessions v
                      where v.session_id = p_session_id)) as at
  )
  insert into {{schema}}.verification_sessions as v (
    session_id, status, redaction_status, last_error_code, type, livemode, created, metadata, needs_refresh, last_change_at, state, confirmed_at, version, updated_at)
  select p_session_id, p_state->'facts'->>'status', p_state->'facts'->>'redactionStatus', p_state->'facts'->'lastError'->>'code', p_state->'facts'->>'type', (p_state->'facts'->>'livemode')::boolean, to_timestamp((p_state->'facts'->>'created')::bigint), coalesce(p_state->'facts'->'metadata', '{}'), coalesce((p_state->>'needsRefresh')::boolean, false), to_timestamp((p_state->>'lastChangeAt')::bigint),
         jsonb_set(coalesce(p_state, '{}'::jsonb), '{confirmedAt}', coalesce(to_jsonb(c.at), 'null'::jsonb)), c.at,
         p_version, now()
    from c
  on conflict (session_id) do update set
    status = excluded.status,
    redaction_status = excluded.redaction_status,
    last_error_code = excluded.last_error_code,
    type = excluded.type,
    livemode = excluded.livemode,
    created = excluded.created,
    metadata = excluded.metadata,
    needs_refresh = excluded.needs_refresh,
    last_change_at = excluded.last_change_at,
    state = excluded.state,
    confirmed_at = greatest(v.confirmed_at, excluded.confirmed_at),
    version = excluded.version,
    updated_at = excluded.updated_at
  where v.version <= excluded.version
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.reconciler_take_tokens(p_key text, p_tokens double precision, p_limit double precision, p_refill_ms double precision, p_allow_overflow boolean, OUT remaining double precision, OUT elapsed_ms double precision)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
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
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.refuse_erasure_changes()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
  raise exception 'the erasure record %.session_erasures is append-only: % is refused', tg_table_schema, tg_op
    using errcode = 'IT001';
end
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.refuse_event_changes()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
  raise exception 'the event log %.events is append-only: % is refused', tg_table_schema, tg_op
    using errcode = 'IT001', hint = 'Record a new event instead (SessionUpdated, SessionResynced, ...).';
end
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.session_account()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
  new.account := coalesce(new.state->>'account', 'default');
  return new;
end
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.step_kind(p_type text, p_data jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  select case when p_type = 'SessionStarted'
                   and p_data->'facts'->>'status' = 'requires_input'
                   and jsonb_typeof(p_data->'facts'->'lastError') is distinct from 'object'
                   and jsonb_typeof(p_data->'facts'->'lastVerificationReport') is distinct from 'string'
              then 'created'
              else {{schema}}.step_status(p_type, p_data) end
$function$
;

CREATE OR REPLACE FUNCTION {{schema}}.step_status(p_type text, p_data jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  select case p_type
           when 'SessionStarted' then p_data->'facts'->>'status'
           when 'SessionSubmitted' then 'processing'
           when 'SessionVerified' then 'verified'
           when 'VerificationFailed' then 'requires_input'
           when 'SessionCanceled' then 'canceled'
           when 'SessionResynced' then p_data->'remote'->>'status'
         end
$function$
;

-- triggers

CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON {{schema}}.events FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.refuse_event_changes();

CREATE TRIGGER events_refuse_update_delete BEFORE DELETE OR UPDATE ON {{schema}}.events FOR EACH ROW EXECUTE FUNCTION {{schema}}.refuse_event_changes();

CREATE TRIGGER session_erasures_refuse_truncate BEFORE TRUNCATE ON {{schema}}.session_erasures FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.refuse_erasure_changes();

CREATE TRIGGER session_erasures_refuse_update_delete BEFORE DELETE OR UPDATE ON {{schema}}.session_erasures FOR EACH ROW EXECUTE FUNCTION {{schema}}.refuse_erasure_changes();

CREATE TRIGGER verification_sessions_account BEFORE INSERT ON {{schema}}.verification_sessions FOR EACH ROW EXECUTE FUNCTION {{schema}}.session_account();
