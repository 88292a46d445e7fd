-- Late steps (issue 12). A step can now be recorded after a later one (`late: true` on its event:
-- a webhook retried late, an Events API snapshot older than the last change), and a step that
-- was filled in (`since` on its event: a read or a webhook jumped over it) can be replaced by its
-- real step arriving later (`confirms`: the filled-in step's `at`). The views that read steps
-- in stream order read them in Stripe's order instead (`at`, then the stream's order), and leave
-- out a filled-in step its real one replaced, so neither a late step nor a confirmed one is
-- counted twice or put in the wrong place. Same columns as before, so readers are unchanged.

-- The status a step's event enters, and its kind (`created` for the first requires_input, so a
-- creation and a failure in one second are two steps), as the domain's `stepOf` says.
create function {{schema}}.step_status(p_type text, p_data jsonb) returns text
language sql immutable parallel safe as $$
  select case p_type
           when 'SessionStarted' then p_data->'facts'->>'status'
           when 'SessionSubmitted' then 'processing'
           when 'SessionVerified' then 'verified'
           when 'VerificationFailed' then 'requires_input'
           when 'SessionCanceled' then 'canceled'
           when 'SessionResynced' then p_data->'remote'->>'status'
         end
$$;

create function {{schema}}.step_kind(p_type text, p_data jsonb) returns text
language sql immutable parallel safe as $$
  select case when p_type = 'SessionStarted'
                   and p_data->'facts'->>'status' = 'requires_input'
                   and jsonb_typeof(p_data->'facts'->'lastError') is distinct from 'object'
                   and jsonb_typeof(p_data->'facts'->'lastVerificationReport') is distinct from 'string'
              then 'created'
              else {{schema}}.step_status(p_type, p_data) end
$$;

-- Every step a history records: its status and kind, whether it was late, whether it was filled
-- in (first knowledge is the step itself only when Stripe's own event of that step brought it),
-- and whether a real step replaced it. The domain's `stepsInStripeOrder` reads the same. Only a
-- filled-in step looks for its replacement, in its own stream (the primary key's range), so the
-- view costs about what 0002's did; a predicate on `session_id` reaches the index.
create view {{schema}}.session_steps as
select e.stream_id as session_id, e.stream_version as version, e.position, e.type,
       {{schema}}.step_status(e.type, e.data) as to_status,
       {{schema}}.step_kind(e.type, e.data) as kind,
       (e.data->>'at')::bigint as at_s,
       e.recorded_at,
       e.metadata->>'source' as source,
       e.metadata->'actor'->>'kind' as actor_kind,
       e.metadata->'actor'->>'id' as actor_id,
       coalesce((e.data->>'late')::boolean, false) as late,
       f.filled_in,
       (e.data->>'confirms')::bigint as confirms,
       f.filled_in and exists (
         select 1 from {{schema}}.events c
          where c.stream_id = e.stream_id and c.stream_version > e.stream_version
            and c.data ? 'confirms'
            and (c.data->>'confirms')::bigint = (e.data->>'at')::bigint
            and {{schema}}.step_kind(c.type, c.data) = {{schema}}.step_kind(e.type, e.data)
       ) as replaced,
       e.data,
       e.metadata
  from {{schema}}.events e
  cross join lateral (
    select case when e.type = 'SessionStarted'
                then e.data->>'stripeEventType' is distinct from
                     'identity.verification_session.' || {{schema}}.step_kind(e.type, e.data)
                else e.data ? 'since' end as filled_in
  ) f
 where e.type in ('SessionStarted', 'SessionSubmitted', 'SessionVerified', 'VerificationFailed',
                  'SessionCanceled', 'SessionResynced');

-- Every status change, in Stripe's order; a filled-in step its real one replaced is left out.
create or replace view {{schema}}.session_transitions as
select t.session_id, t.version, t.position, t.type,
       lag(t.to_status) over (partition by t.session_id order by t.at_s, t.version) as from_status,
       t.to_status, to_timestamp(t.at_s) as at, t.recorded_at, t.source, t.actor_kind, t.actor_id
  from {{schema}}.session_steps t
 where not t.replaced;

-- Which status a session was in, and from when until when (Stripe time), in Stripe's order.
create or replace view {{schema}}.session_status_intervals as
select t.session_id, t.to_status as status, t.at as valid_from,
       lead(t.at) over (partition by t.session_id order by t.at, t.version) as valid_until,
       t.recorded_at as recorded_from,
       lead(t.recorded_at) over (partition by t.session_id order by t.at, t.version) as recorded_until,
       t.version
  from {{schema}}.session_transitions t
 where t.from_status is distinct from t.to_status;

-- Every failed check with Stripe's code and reason: each step into requires_input but the
-- creation, late ones included, filled-in ones only while no real one replaced them. A session
-- first seen already failed (its `SessionStarted` shows a last error) counts that failure too:
-- Stripe's events have it.
create or replace view {{schema}}.session_failures as
select t.session_id, t.position,
       case when t.type = 'SessionStarted' then t.data->'facts'->'lastError'->>'code' else t.data->>'code' end as code,
       case when t.type = 'SessionStarted' then t.data->'facts'->'lastError'->>'reason' else t.data->>'reason' end
         as reason,
       to_timestamp(t.at_s) as at, t.recorded_at
  from {{schema}}.session_steps t
 where t.to_status = 'requires_input' and t.kind <> 'created' and not t.replaced
   and t.type in ('VerificationFailed', 'SessionStarted');

-- Time to verified (0008), the first verified step in Stripe's order: a verification filled in
-- by a read and confirmed by its own webhook later is dated by that webhook.
create or replace view {{schema}}.session_verification_times as
select v.session_id, v.created, f.verified_at,
       case when f.verified_at_known
            then extract(epoch from f.verified_at - v.created)::double precision end as seconds,
       f.verified_at_known
  from {{schema}}.verification_sessions v
  join (select distinct on (t.session_id) t.session_id, t.at as verified_at,
               coalesce(e.metadata->>'stripeEventType' = 'identity.verification_session.verified', false)
                 as verified_at_known
          from {{schema}}.session_transitions t
          join {{schema}}.events e on e.stream_id = t.session_id and e.stream_version = t.version
         where t.to_status = 'verified'
         order by t.session_id, t.at, t.version) f on f.session_id = v.session_id;
