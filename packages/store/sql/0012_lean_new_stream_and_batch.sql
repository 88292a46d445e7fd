
-- The common appends without a nested call or a server-side parse of the state (issue 14).
--
-- `append_one` also takes a new stream's first event itself: one duplicate check, the session
-- row inserted from the projected columns sent as parameters, the event inserted. Before, a new
-- stream went through `append_to_stream`, which checked for a duplicate again, probed the log for
-- the stream, re-parsed the state as jsonb and extracted its columns in SQL. The log is not
-- probed here: a stream whose session row was deleted outside the store still has its first
-- event, so the event's insert finds it (nothing written, though it takes a position); the row
-- just inserted is taken out again and `append_to_stream` decides, from the log, as before.
--
-- `append_batch` sends each one-event append of a batch to `append_one` with its columns (an
-- append of several events still goes to `append_to_stream`). It still locks the batch's rows
-- with `skip locked` first, in stream order, and answers 'busy' (nothing written; the client
-- sends it alone) for an append whose row exists but is neither locked nor created by the batch.
-- That is asked per append, and only of rows the lock did not take (new streams, held rows).

create or replace function {{schema}}.append_one(
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
$$;

drop function {{schema}}.append_batch(text[], bigint[], text[], jsonb[], jsonb[], jsonb[], bigint[]);

-- One row per append, in the order given. `p_types[i]` is the event's type for a one-event
-- append (then `p_events[i]` is the event), null for several (then `p_events[i]` is their array).
create function {{schema}}.append_batch(
  p_stream_ids text[],
  p_expected_versions bigint[],
  p_stripe_event_ids text[],
  p_types text[],
  p_events jsonb[],
  p_metadata jsonb[],
  p_states json[],
  p_status text[],
  p_redaction_status text[],
  p_last_error_code text[],
  p_session_type text[],
  p_livemode boolean[],
  p_created bigint[],
  p_session_metadata jsonb[],
  p_needs_refresh boolean[],
  p_last_change_at bigint[],
  p_confirmed_at bigint[],
  p_confirmed_seen bigint[],
  out ord int,
  out outcome text,
  out version bigint,
  out positions bigint[]
)
returns setof record
language plpgsql as $$
declare
  v_locked text[];
begin
  select coalesce(array_agg(l.session_id), '{}') into v_locked
    from (select v.session_id from {{schema}}.verification_sessions v
           where v.session_id = any(p_stream_ids)
           order by v.session_id
             for update skip locked) l;
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
$$;
