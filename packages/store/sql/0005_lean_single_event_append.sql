
lock table {{schema}}.verification_sessions in exclusive mode;
alter table {{schema}}.verification_sessions
  add column updated_at_moved timestamptz not null default now(),
  add column state_moved json;
update {{schema}}.verification_sessions set updated_at_moved = updated_at, state_moved = state::json;
alter table {{schema}}.verification_sessions drop column updated_at, drop column state;
alter table {{schema}}.verification_sessions rename column updated_at_moved to updated_at;
alter table {{schema}}.verification_sessions rename column state_moved to state;
alter table {{schema}}.verification_sessions alter column state set not null;

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
      state = p_state
    where v.session_id = p_stream_id and v.version = p_expected_version;
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
                               jsonb_build_array(p_event), p_metadata, p_state::jsonb) a;
end
$$;
