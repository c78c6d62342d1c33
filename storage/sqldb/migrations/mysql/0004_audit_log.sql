-- The audit log: what admins did to the queues and tasks, who, when, and
-- how it went. Rows are only inserted.

CREATE TABLE IF NOT EXISTS audit_log (
  id BIGINT NOT NULL AUTO_INCREMENT,
  actor_id BIGINT NOT NULL,
  -- The GraphQL mutation: pauseQueue, cancelTask...
  action VARCHAR(64) NOT NULL,
  target VARCHAR(255) NOT NULL,
  result VARCHAR(1000) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  -- One admin's actions, newest last.
  KEY audit_log_actor (actor_id, id),
  CONSTRAINT audit_log_actor_fk FOREIGN KEY (actor_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
