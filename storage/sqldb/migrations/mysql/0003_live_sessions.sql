-- Live sessions: live classes held as Webex meetings, the imports of their
-- recordings, and the OAuth tokens of integrations (Webex's refreshes).
--
-- live_sessions.course_id has no foreign key, like videos.lecture_id: a
-- cancelled session outlives its course's purge until Webex has confirmed
-- the meeting's deletion, which the pending flag drives.

CREATE TABLE IF NOT EXISTS live_sessions (
  id BIGINT NOT NULL AUTO_INCREMENT,
  course_id BIGINT NOT NULL,
  creator_id BIGINT NOT NULL,
  title VARCHAR(128) NOT NULL,
  agenda TEXT NOT NULL,
  starts_at DATETIME(6) NOT NULL,
  ends_at DATETIME(6) NOT NULL,
  status VARCHAR(16) NOT NULL,
  -- Bumped on every change; orders events and guards conditional updates.
  version BIGINT NOT NULL,
  -- The Webex meeting series. Webex ids are case-sensitive ASCII.
  meeting_id VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  meeting_number VARCHAR(32) NOT NULL,
  join_url VARCHAR(1024) NOT NULL,
  password VARCHAR(128) NOT NULL,
  host_key VARCHAR(32) NOT NULL,
  sip_address VARCHAR(255) NOT NULL,
  meeting_delete_pending BOOLEAN NOT NULL,
  recording_lecture_id BIGINT NULL,
  -- NULL when the client sent no key; unique per creator otherwise.
  idempotency_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  started_at DATETIME(6) NULL,
  ended_at DATETIME(6) NULL,
  cancelled_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY live_sessions_meeting (meeting_id),
  UNIQUE KEY live_sessions_idempotency (creator_id, idempotency_key),
  -- A course's sessions in time order.
  KEY live_sessions_course (course_id, starts_at),
  -- Webhooks that name only the meeting number.
  KEY live_sessions_number (meeting_number),
  -- The sync: sessions that may still change.
  KEY live_sessions_active (status, ends_at),
  -- The reconciler: cancelled sessions whose meeting is not deleted yet.
  KEY live_sessions_delete_pending (meeting_delete_pending),
  CONSTRAINT live_sessions_creator_fk FOREIGN KEY (creator_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS live_recordings (
  recording_id VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  session_id BIGINT NOT NULL,
  lecture_id BIGINT NOT NULL,
  video_id BIGINT NULL,
  imported_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (recording_id),
  KEY live_recordings_session (session_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS oauth_tokens (
  provider VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  access_token TEXT NOT NULL,
  expiry DATETIME(6) NULL,
  refresh_token TEXT NOT NULL,
  refresh_expiry DATETIME(6) NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (provider)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
