
-- Time to verified, on Stripe's clock only: from the session's `created` to its transition into
-- verified as Stripe's own `identity.verification_session.verified` event dates it. A session
-- first seen already verified (a sweep of an older account) or seen verified by a read has no
-- such time: idtrail knows only when it saw it, which says nothing about how long the user took.
-- Such a session stays in the view, marked: `verified_at_known` false, `seconds` null, and
-- `verified_at` the Stripe time it was first seen verified (an upper bound). Percentiles over
-- `seconds` leave it out.
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
         order by t.session_id, t.version) f on f.session_id = v.session_id;
