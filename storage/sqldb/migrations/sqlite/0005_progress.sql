-- Learning progress: one row per (viewer, lecture), rewritten in place by
-- every beat. See the MySQL migration for the columns and keys.

CREATE TABLE lecture_progress (
  lecture_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users (id),
  video_id INTEGER NOT NULL,
  video_duration REAL NOT NULL,
  watched BLOB NOT NULL,
  watched_seconds REAL NOT NULL,
  position_seconds REAL NOT NULL,
  played_seconds REAL NOT NULL,
  learner INTEGER NOT NULL,
  completed_at DATETIME NULL,
  last_watched_at DATETIME NOT NULL,
  budget_at DATETIME NOT NULL,
  recent_beats BLOB NOT NULL,
  version INTEGER NOT NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (lecture_id, user_id)
) WITHOUT ROWID;

CREATE INDEX lecture_progress_user ON lecture_progress (user_id, completed_at, last_watched_at);
