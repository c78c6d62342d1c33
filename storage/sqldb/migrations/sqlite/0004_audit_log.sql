-- The audit log: what admins did to the queues and tasks, who, when, and
-- how it went. Rows are only inserted.

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  actor_id INTEGER NOT NULL REFERENCES users (id),
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  result TEXT NOT NULL,
  created_at DATETIME NOT NULL
);

CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
