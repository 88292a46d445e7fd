-- The opt-in vault: a session's verified outputs and provided details, kept outside the log,
-- encrypted under the session's data key (as its personal values in events are), until
-- expires_at. A row cannot outlive its key: erasing the session (deleting its key) deletes its
-- vault rows in the same statement, and no row can be written for a session without a key.
create table {{schema}}.vault (
  session_id text collate "C" not null
    references {{schema}}.session_keys (session_id) on delete cascade,
  kind text not null check (kind in ('verified_outputs', 'provided_details')),
  -- Which fields the value holds: names, never values (what access events record).
  fields text[] not null,
  -- idtrail:enc:1:… (AES-256-GCM under the session's data key).
  value text not null,
  kept_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (session_id, kind)
);
-- The retention sweep deletes by expiry.
create index vault_expires_at on {{schema}}.vault (expires_at);
