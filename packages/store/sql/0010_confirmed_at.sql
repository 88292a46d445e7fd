-- The newest authoritative read handled, kept beside each session's stream (issue 10, item 6).
-- A read from the API or the reconciler that changes nothing writes no event, yet every older
-- observation must be stale after it: `confirmed_at` (Stripe unix seconds) holds its time. It only
-- moves forward (`greatest`): appends write the folded state's `confirmedAt`, and a read that
-- changes nothing updates this column alone (no event, no version bump), on the version it was
-- decided on. Existing rows start from what the log shows: the newest `observedAt` of the
-- stream's authoritative events (a lower bound).
alter table {{schema}}.verification_sessions add column confirmed_at bigint;
update {{schema}}.verification_sessions v set confirmed_at = c.at
  from (select e.stream_id, max((e.metadata->>'observedAt')::bigint) as at
          from {{schema}}.events e
         where e.metadata->>'source' in ('api', 'reconciler')
         group by e.stream_id) c
 where c.stream_id = v.session_id;

-- The appends take `p_confirmed_seen`: the confirmed_at their events were decided on (0 for
-- none; null: not checked). A row confirmed since by a newer read answers 'conflict', like a
-- moved version, so the writer decides again and the older read cannot land. The new parameters
-- come last with defaults, so callers of the former versions keep working; those are dropped.
drop function {{schema}}.append_batch(text[], bigint[], text[], jsonb[], jsonb[], jsonb[]);
drop function {{schema}}.append_one(text, bigint, text, text, jsonb, jsonb, json, text, text, text, text, boolean, bigint, jsonb, boolean, bigint);
drop function {{schema}}.append_to_stream(text, bigint, text, jsonb, jsonb, jsonb);

create function {{schema}}.append_to_stream(
  p_stream_id text,
  p_expected_version bigint,
  p_stripe_event_id text,
  p_events jsonb,
  p_metadata jsonb,
  p_state jsonb,
  p_confirmed_seen bigint default null,
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
$$;

create function {{schema}}.append_one(
  p_stream_id text,
  p_expected_version bigint,
  p_stripe_event_id text,
  p_type text,
  p_event jsonb,
  p_metadata jsonb,
  p_state json,
  p_status text,
  p_redaction_status text,
  p_last_error_code text,
  p_session_type text,
  p_livemode boolean,
  p_created bigint,
  p_session_metadata jsonb,
  p_needs_refresh boolean,
  p_last_change_at bigint,
  p_confirmed_at bigint default null,
  p_confirmed_seen bigint default null,
  out outcome text,
  out version bigint,
  out event_position bigint
)
language plpgsql as $$
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
  end if;
  -- A new stream, a lost race or a missing row: nothing is written yet; the general append decides.
  select a.outcome, a.version, a.positions[1] into outcome, version, event_position
    from {{schema}}.append_to_stream(p_stream_id, p_expected_version, p_stripe_event_id,
                               jsonb_build_array(p_event), p_metadata, p_state::jsonb,
                               p_confirmed_seen) a;
end
$$;

create function {{schema}}.append_batch(
  p_stream_ids text[],
  p_expected_versions bigint[],
  p_stripe_event_ids text[],
  p_events jsonb[],
  p_metadata jsonb[],
  p_states jsonb[],
  p_confirmed_seen bigint[] default null,
  out ord int,
  out outcome text,
  out version bigint,
  out positions bigint[]
)
returns setof record
language plpgsql as $$
declare
  v_locked text[];
  v_busy text[];
begin
  select coalesce(array_agg(l.session_id), '{}') into v_locked
    from (select v.session_id from {{schema}}.verification_sessions v
           where v.session_id = any(p_stream_ids)
           order by v.session_id
             for update skip locked) l;
  select coalesce(array_agg(v.session_id), '{}') into v_busy
    from {{schema}}.verification_sessions v
   where v.session_id = any(p_stream_ids) and v.session_id <> all(v_locked);
  for i in 1 .. coalesce(array_length(p_stream_ids, 1), 0) loop
    ord := i;
    if p_stream_ids[i] = any(v_busy) then
      outcome := 'busy';
      version := null;
      positions := null;
    else
      select a.outcome, a.version, a.positions into outcome, version, positions
        from {{schema}}.append_to_stream(p_stream_ids[i], p_expected_versions[i], p_stripe_event_ids[i],
                                   p_events[i], p_metadata[i], p_states[i],
                                   p_confirmed_seen[i]) a;
    end if;
    return next;
  end loop;
end
$$;

-- A rebuild keeps the row's confirmed_at, or derives it from the log for a row it recreates (the
-- newest observedAt of the stream's authoritative events, a lower bound); the state it writes
-- carries the same confirmedAt.
create or replace function {{schema}}.project_session(p_session_id text, p_version bigint, p_state jsonb) returns void
language sql as $$
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
$$;
