
-- A session's history with who and what caused each change.
create view {{schema}}.session_history as
select e.stream_id as session_id,
       e.stream_version as version,
       e.position,
       e.type,
       to_timestamp((e.data->>'at')::bigint) as at,
       e.recorded_at,
       e.metadata->>'source' as source,
       e.metadata->>'stripeEventId' as stripe_event_id,
       e.metadata->>'stripeEventType' as stripe_event_type,
       to_timestamp((e.metadata->>'observedAt')::bigint) as observed_at,
       e.metadata->>'causationId' as causation_id,
       e.metadata->>'correlationId' as correlation_id,
       e.metadata->'actor'->>'kind' as actor_kind,
       e.metadata->'actor'->>'id' as actor_id,
       e.data,
       e.metadata
  from {{schema}}.events e;

-- Every status change: into which status, from which, when (Stripe time) and from what source.
create view {{schema}}.session_transitions as
select t.session_id, t.version, t.position, t.type,
       lag(t.to_status) over (partition by t.session_id order by t.version) as from_status,
       t.to_status, t.at, t.recorded_at, t.source, t.actor_kind, t.actor_id
  from (
    select e.stream_id as session_id, e.stream_version as version, e.position, e.type,
           case e.type
             when 'SessionStarted' then e.data->'facts'->>'status'
             when 'SessionSubmitted' then 'processing'
             when 'SessionVerified' then 'verified'
             when 'VerificationFailed' then 'requires_input'
             when 'SessionCanceled' then 'canceled'
             when 'SessionResynced' then e.data->'remote'->>'status'
           end as to_status,
           to_timestamp((e.data->>'at')::bigint) as at,
           e.recorded_at,
           e.metadata->>'source' as source,
           e.metadata->'actor'->>'kind' as actor_kind,
           e.metadata->'actor'->>'id' as actor_id
      from {{schema}}.events e
     where e.type in ('SessionStarted', 'SessionSubmitted', 'SessionVerified', 'VerificationFailed',
                      'SessionCanceled', 'SessionResynced')
  ) t;

-- Which status a session was in, and from when until when (Stripe time): "state at a time".
create view {{schema}}.session_status_intervals as
select t.session_id, t.to_status as status, t.at as valid_from,
       lead(t.at) over (partition by t.session_id order by t.version) as valid_until,
       t.recorded_at as recorded_from,
       lead(t.recorded_at) over (partition by t.session_id order by t.version) as recorded_until,
       t.version
  from {{schema}}.session_transitions t
 where t.from_status is distinct from t.to_status;

-- Current number of sessions per status (the inline projection).
create view {{schema}}.session_counts_by_status as
select v.status, count(*)::bigint as sessions
  from {{schema}}.verification_sessions v
 group by v.status;

-- Every failed check with Stripe's code and reason.
create view {{schema}}.session_failures as
select e.stream_id as session_id, e.position, e.data->>'code' as code, e.data->>'reason' as reason,
       to_timestamp((e.data->>'at')::bigint) as at, e.recorded_at
  from {{schema}}.events e
 where e.type = 'VerificationFailed';

-- Time from a session's creation (at Stripe) to its first verified status.
create view {{schema}}.session_verification_times as
select v.session_id, v.created, f.verified_at,
       extract(epoch from f.verified_at - v.created)::double precision as seconds
  from {{schema}}.verification_sessions v
  join (select t.session_id, min(t.at) as verified_at
          from {{schema}}.session_transitions t
         where t.to_status = 'verified'
         group by t.session_id) f on f.session_id = v.session_id;

-- Sessions redacted, being redacted at Stripe, or whose redaction was requested here.
create view {{schema}}.session_redactions as
select v.session_id, v.status, v.redaction_status,
       case when v.redaction_status = 'redacted' then 'redacted'
            when v.redaction_status is not null then 'pending'
            else 'requested' end as redaction,
       r.requested_at, v.last_change_at
  from {{schema}}.verification_sessions v
  left join (select e.stream_id, max(to_timestamp((e.data->>'at')::bigint)) as requested_at
               from {{schema}}.events e where e.type = 'RedactionRequested'
              group by e.stream_id) r on r.stream_id = v.session_id
 where v.redaction_status is not null or r.stream_id is not null;
