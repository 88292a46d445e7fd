
-- Sessions by Stripe's creation time, read backwards (newest first, as Stripe lists them): a
-- sweep compares one window of creation times per page of Stripe's listing, and pages through
-- a window with a row comparison (sessions.createdBetween). created never changes, so appends'
-- in-place (HOT) updates of the row stay in place.
create index verification_sessions_created on {{schema}}.verification_sessions (created, session_id);
