
create function {{schema}}.append_batch(
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
begin
  for i in 1 .. coalesce(array_length(p_stream_ids, 1), 0) loop
    ord := i;
    select a.outcome, a.version, a.positions into outcome, version, positions
      from {{schema}}.append_to_stream(p_stream_ids[i], p_expected_versions[i], p_stripe_event_ids[i],
                                 p_events[i], p_metadata[i], p_states[i]) a;
    return next;
  end loop;
end
$$;
