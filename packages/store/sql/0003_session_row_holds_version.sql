
lock table {{schema}}.streams, {{schema}}.verification_sessions in exclusive mode;
insert into {{schema}}.verification_sessions as v (session_id, version, state)
select st.stream_id, st.version, '{}'::jsonb from {{schema}}.streams st
on conflict (session_id) do update set version = excluded.version, updated_at = now()
where v.version < excluded.version;
drop table {{schema}}.streams;

-- One append, one round trip: (1) drop a duplicate Stripe event, (2) check the expected version
-- on the session's row before any sequence value is taken (the row lock serialises writers of
-- one stream; a loser sees the new version and leaves), writing the folded state there in the
-- same statement, (3) insert the batch. Outcomes are values: 'appended' (version = the new
-- version), 'duplicate', 'conflict' (version = the actual version).
create or replace function {{schema}}.append_to_stream(
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
       where v.session_id = p_stream_id and v.version = p_expected_version;
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
    version = v_version,
    updated_at = now()
  where v.session_id = p_stream_id and v.version = p_expected_version;
    end if;
    v_won := found;
  elsif not exists (select 1 from {{schema}}.events e where e.stream_id = p_stream_id) then

  insert into {{schema}}.verification_sessions as v (
    session_id, status, redaction_status, last_error_code, type, livemode, created, metadata, needs_refresh, last_change_at, state, version, updated_at)
  values (p_stream_id, p_state->'facts'->>'status', p_state->'facts'->>'redactionStatus', p_state->'facts'->'lastError'->>'code', p_state->'facts'->>'type', (p_state->'facts'->>'livemode')::boolean, to_timestamp((p_state->'facts'->>'created')::bigint), coalesce(p_state->'facts'->'metadata', '{}'), coalesce((p_state->>'needsRefresh')::boolean, false), to_timestamp((p_state->>'lastChangeAt')::bigint), coalesce(p_state, '{}'::jsonb), v_version, now())
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
    session_id, status, redaction_status, last_error_code, type, livemode, created, metadata, needs_refresh, last_change_at, state, version, updated_at)
  values (p_stream_id, p_state->'facts'->>'status', p_state->'facts'->>'redactionStatus', p_state->'facts'->'lastError'->>'code', p_state->'facts'->>'type', (p_state->'facts'->>'livemode')::boolean, to_timestamp((p_state->'facts'->>'created')::bigint), coalesce(p_state->'facts'->'metadata', '{}'), coalesce((p_state->>'needsRefresh')::boolean, false), to_timestamp((p_state->>'lastChangeAt')::bigint), coalesce(p_state, '{}'::jsonb), v_version, now())
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
$$;
