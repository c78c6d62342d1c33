-- Live sessions: live classes held as Webex meetings, the imports of their
-- recordings, and the OAuth tokens of integrations (Webex's refreshes).
-- See the MySQL migration for why course_id has no foreign key.

CREATE TABLE live_sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  course_id INTEGER NOT NULL,
  creator_id INTEGER NOT NULL REFERENCES users (id),
  title TEXT NOT NULL,
  agenda TEXT NOT NULL,
  starts_at DATETIME NOT NULL,
  ends_at DATETIME NOT NULL,
  status TEXT NOT NULL,
  version INTEGER NOT NULL,
  meeting_id TEXT NOT NULL UNIQUE,
  meeting_number TEXT NOT NULL,
  join_url TEXT NOT NULL,
  password TEXT NOT NULL,
  host_key TEXT NOT NULL,
  sip_address TEXT NOT NULL,
  meeting_delete_pending INTEGER NOT NULL,
  recording_lecture_id INTEGER NULL,
  idempotency_key TEXT NULL,
  started_at DATETIME NULL,
  ended_at DATETIME NULL,
  cancelled_at DATETIME NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  UNIQUE (creator_id, idempotency_key)
);

CREATE INDEX live_sessions_course ON live_sessions (course_id, starts_at);
CREATE INDEX live_sessions_number ON live_sessions (meeting_number);
CREATE INDEX live_sessions_active ON live_sessions (status, ends_at);
CREATE INDEX live_sessions_delete_pending ON live_sessions (meeting_delete_pending);

CREATE TABLE live_recordings (
  recording_id TEXT NOT NULL PRIMARY KEY,
  session_id INTEGER NOT NULL,
  lecture_id INTEGER NOT NULL,
  video_id INTEGER NULL,
  imported_at DATETIME NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);

CREATE INDEX live_recordings_session ON live_recordings (session_id);

CREATE TABLE oauth_tokens (
  provider TEXT NOT NULL PRIMARY KEY,
  access_token TEXT NOT NULL,
  expiry DATETIME NULL,
  refresh_token TEXT NOT NULL,
  refresh_expiry DATETIME NULL,
  updated_at DATETIME NOT NULL
);
