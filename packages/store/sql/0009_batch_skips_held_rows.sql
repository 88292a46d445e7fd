
-- A batch of appends never waits on a session row that another transaction holds: it locks the
-- rows it can now, in stream order, and answers 'busy' (nothing written) for each append whose row
-- is held elsewhere; the client sends those alone. One held row then delays only its own session's
-- appends, never the rest of the batch. A stream created by a transaction still open elsewhere is
-- invisible here, and its append waits for that transaction as before (a new stream's first
-- append is not usually contended).
create or replace function {{schema}}.append_batch(
  p_stream_ids text[],
  p_expected_versions bigint[],
  p_stripe_event_ids text[],
  p_events jsonb[],
  p_metadata jsonb[],
  p_states jsonb[],
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
                                   p_events[i], p_metadata[i], p_states[i]) a;
    end if;
    return next;
  end loop;
end
$$;
