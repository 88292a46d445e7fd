-- The Stripe account each session belongs to (issue 13): the platform account's name (the
-- operator's, "default" unless told otherwise) or a connected account's id acct_…. Every row
-- written before accounts is the default account's: a column with a constant default is added
-- without rewriting the table, and that default is the backfill.
alter table {{schema}}.verification_sessions add column account text collate "C" not null default 'default';

-- A session's account never changes (the domain refuses an observation through another one), so
-- it is taken from the state's "account" once, when the row is inserted, by a trigger on insert
-- only. Not a generated column: that would parse the state's JSON text on every append's update;
-- and not a parameter of the append functions: their signatures, and the group commit that calls
-- them, stay as they are. Updates (the lean append path's common case) never fire it. Measured
-- on Postgres 2026-12-07: +3.5 µs server time per inserted row (50,000-row inserts, 7.6 → 11 µs a
-- row), nothing per update; one-by-one appends through handle (1,500 new sessions then 1,500
-- updates, 4 rounds interleaved, load 7): 165 → 182 new/s and 143 → 169 existing/s, medians,
-- so no slower beyond the noise.
create function {{schema}}.session_account() returns trigger language plpgsql as $$
begin
  new.account := coalesce(new.state->>'account', 'default');
  return new;
end
$$;
create trigger verification_sessions_account before insert on {{schema}}.verification_sessions
  for each row execute function {{schema}}.session_account();

-- One account's sessions by Stripe's creation time (the sweep's window, audit listings); the
-- unsettled sessions of one account (incremental re-reads) read the same index's prefix. Neither
-- column changes after the insert, so appends' in-place (HOT) updates stay in place.
create index verification_sessions_account_created on {{schema}}.verification_sessions (account, created, session_id);
