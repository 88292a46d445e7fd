-- Personal data under per-session keys (crypto-shredding). Each session's data key is stored
-- wrapped by the operator's key-encryption key (KEK); the events and the projection hold its
-- personal values encrypted under it. Erasure deletes the key and records who erased and why.

-- One data key per session, wrapped (AES-256-GCM) by the KEK named kek_id.
create table {{schema}}.session_keys (
  session_id text collate "C" primary key,
  wrapped_key bytea not null,
  kek_id text not null,
  created_at timestamptz not null default now()
);

-- The sessions whose key was destroyed: when, by whom (an actor, as in event metadata) and why.
-- A record, like the log: rows are never changed or removed.
create table {{schema}}.session_erasures (
  session_id text collate "C" primary key,
  erased_at timestamptz not null default now(),
  actor jsonb not null,
  reason text not null
);
create function {{schema}}.refuse_erasure_changes() returns trigger language plpgsql as $$
begin
  raise exception 'the erasure record %.session_erasures is append-only: % is refused', tg_table_schema, tg_op
    using errcode = 'IT001';
end
$$;
create trigger session_erasures_refuse_update_delete before update or delete on {{schema}}.session_erasures
  for each row execute function {{schema}}.refuse_erasure_changes();
create trigger session_erasures_refuse_truncate before truncate on {{schema}}.session_erasures
  for each statement execute function {{schema}}.refuse_erasure_changes();

-- Which KEK this schema's keys are wrapped by: a known value wrapped by it, so a store opened
-- with another KEK (or none) is refused at start instead of writing keys no one can unwrap.
create table {{schema}}.key_encryption_check (
  kek_id text primary key,
  wrapped_check bytea not null,
  created_at timestamptz not null default now()
);
