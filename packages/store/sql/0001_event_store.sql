
-- Ids compare byte-wise (collate "C"): they are ASCII, and index lookups skip the locale.
create table {{schema}}.events (
  position bigint generated always as identity,
  stream_id text collate "C" not null,
  stream_version bigint not null,
  type text not null,
  data jsonb not null,
  metadata jsonb not null,
  stripe_event_id text collate "C",
  transaction_id xid8 not null default pg_current_xact_id(),
  recorded_at timestamptz not null default now(),
  primary key (stream_id, stream_version)
);
comment on table {{schema}}.events is 'The append-only event log of VerificationSessions. Read in global order by (transaction_id, position), only below pg_snapshot_xmin(pg_current_snapshot()).';
-- Readers' global order; also serves max(transaction_id) for the start-up check.
create index events_global_order on {{schema}}.events (transaction_id, position);
create unique index events_stripe_event_id on {{schema}}.events (stripe_event_id) where stripe_event_id is not null;

-- fillfactor leaves room on each page so version bumps are HOT updates (no index writes).
create table {{schema}}.streams (
  stream_id text collate "C" primary key,
  version bigint not null check (version > 0)
) with (fillfactor = 50);

create table {{schema}}.verification_sessions (
  session_id text collate "C" primary key,
  status text,
  redaction_status text,
  last_error_code text,
  type text,
  livemode boolean,
  created timestamptz,
  metadata jsonb not null default '{}',
  version bigint not null,
  needs_refresh boolean not null default false,
  last_change_at timestamptz,
  state jsonb not null,
  updated_at timestamptz not null default now()
) with (fillfactor = 50);

create table {{schema}}.projection_checkpoints (
  name text primary key,
  transaction_id xid8 not null,
  position bigint not null,
  updated_at timestamptz not null default now()
);

create function {{schema}}.refuse_event_changes() returns trigger language plpgsql as $$
begin
  raise exception 'the event log %.events is append-only: % is refused', tg_table_schema, tg_op
    using errcode = 'IT001', hint = 'Record a new event instead (SessionUpdated, SessionResynced, ...).';
end
$$;
create trigger events_refuse_update_delete before update or delete on {{schema}}.events
  for each row execute function {{schema}}.refuse_event_changes();
create trigger events_refuse_truncate before truncate on {{schema}}.events
  for each statement execute function {{schema}}.refuse_event_changes();

-- The inline projection's row for one session, from the SessionState the client folded.
create function {{schema}}.project_session(p_session_id text, p_version bigint, p_state jsonb) returns void
language sql as $$

  insert into {{schema}}.verification_sessions as v (
    session_id, status, redaction_status, last_error_code, type, livemode, created, metadata, needs_refresh, last_change_at, state, version, updated_at)
  values (p_session_id, p_state->'facts'->>'status', p_state->'facts'->>'redactionStatus', p_state->'facts'->'lastError'->>'code', p_state->'facts'->>'type', (p_state->'facts'->>'livemode')::boolean, to_timestamp((p_state->'facts'->>'created')::bigint), coalesce(p_state->'facts'->'metadata', '{}'), coalesce((p_state->>'needsRefresh')::boolean, false), to_timestamp((p_state->>'lastChangeAt')::bigint), coalesce(p_state, '{}'::jsonb), p_version, now())
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
    version = excluded.version,
    updated_at = excluded.updated_at
  where v.version <= excluded.version
$$;

-- One append, one round trip: (1) drop a duplicate Stripe event, (2) check the expected version
-- before any sequence value is taken, (3) insert the batch, (4) update the inline projection.
-- Outcomes are values: 'appended' (version = the new version), 'duplicate', 'conflict'
-- (version = the actual version).
create function {{schema}}.append_to_stream(
  p_stream_id text,
  p_expected_version bigint,
  p_stripe_event_id text,
  p_events jsonb,
  p_metadata jsonb,
  p_state jsonb,
  out outcome text,
  out version bigint,
  out positions bigint[]
)
language plpgsql as $$
declare
  v_count int := jsonb_array_length(p_events);
  v_position bigint;
begin
  if p_stripe_event_id is not null
     and exists (select 1 from {{schema}}.events e where e.stripe_event_id = p_stripe_event_id) then
    outcome := 'duplicate';
    return;
  end if;

  -- The stream row is the lock: a concurrent writer waits here, then sees the new version.
  if p_expected_version = 0 then
    insert into {{schema}}.streams as st (stream_id, version) values (p_stream_id, v_count)
      on conflict (stream_id) do nothing;
  else
    update {{schema}}.streams as st set version = st.version + v_count
      where st.stream_id = p_stream_id and st.version = p_expected_version;
  end if;
  if not found then
    outcome := 'conflict';
    select st.version into version from {{schema}}.streams st where st.stream_id = p_stream_id;
    version := coalesce(version, 0);
    return;
  end if;

  if v_count = 1 then
    -- The common case (one webhook, one event) without the set-returning machinery.
    insert into {{schema}}.events (stream_id, stream_version, type, data, metadata, stripe_event_id)
    values (p_stream_id, p_expected_version + 1, p_events->0->>'_tag', p_events->0, p_metadata, p_stripe_event_id)
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

  -- The inline projection, written here rather than through project_session: one call less per
  -- append. An existing session is a plain update (no speculative insertion); a new one, or one
  -- whose row a rebuild has not written yet, an upsert.
  if p_state is not null then
    if p_expected_version > 0 then

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
    version = p_expected_version + v_count,
    updated_at = now()
  where v.session_id = p_stream_id and v.version <= p_expected_version + v_count;
    end if;
    if p_expected_version = 0 or not found then

  insert into {{schema}}.verification_sessions as v (
    session_id, status, redaction_status, last_error_code, type, livemode, created, metadata, needs_refresh, last_change_at, state, version, updated_at)
  values (p_stream_id, p_state->'facts'->>'status', p_state->'facts'->>'redactionStatus', p_state->'facts'->'lastError'->>'code', p_state->'facts'->>'type', (p_state->'facts'->>'livemode')::boolean, to_timestamp((p_state->'facts'->>'created')::bigint), coalesce(p_state->'facts'->'metadata', '{}'), coalesce((p_state->>'needsRefresh')::boolean, false), to_timestamp((p_state->>'lastChangeAt')::bigint), coalesce(p_state, '{}'::jsonb), p_expected_version + v_count, now())
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
    version = excluded.version,
    updated_at = excluded.updated_at
  where v.version <= excluded.version;
    end if;
  end if;
  outcome := 'appended';
  version := p_expected_version + v_count;
end
$$;
