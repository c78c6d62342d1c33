-- Learning progress: one row per (viewer, lecture), rewritten in place by
-- every beat of the viewer's player (never a row per beat).
--
-- The primary key leads with the lecture, so a lecture's analytics read
-- one range of the clustered index; continue-watching reads the user's
-- index. No foreign key to lectures, like videos: a deleted lecture's rows
-- linger unseen (every read joins lectures), and lecture ids are never
-- reused.

CREATE TABLE IF NOT EXISTS lecture_progress (
  lecture_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  -- The video the watched seconds are seconds of, and its length.
  video_id BIGINT NOT NULL,
  video_duration DOUBLE NOT NULL,
  -- The watched seconds: edustream.WatchedSeconds' run-length encoding
  -- (a few bytes for a lecture watched through).
  watched BLOB NOT NULL,
  watched_seconds DOUBLE NOT NULL,
  position_seconds DOUBLE NOT NULL,
  -- All media time played, rewatches included.
  played_seconds DOUBLE NOT NULL,
  -- Watched as an enrolled student (not as the instructor or an admin).
  learner BOOLEAN NOT NULL,
  completed_at DATETIME(6) NULL,
  last_watched_at DATETIME(6) NOT NULL,
  -- The plausibility rule's budget: wall time before it is spent.
  budget_at DATETIME(6) NOT NULL,
  -- Digests of the last beats, so a replayed beat changes nothing.
  recent_beats BINARY(32) NOT NULL,
  -- Bumped by every write; a beat writes only over the version it read.
  version BIGINT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (lecture_id, user_id),
  -- Continue watching: a user's lectures not completed, latest first.
  KEY lecture_progress_user (user_id, completed_at, last_watched_at),
  CONSTRAINT lecture_progress_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
