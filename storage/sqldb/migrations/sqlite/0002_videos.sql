-- Videos: one row per uploaded source file of a lecture, with where the
-- transcoding chain has got. lectures.video_id points at the one that plays.
-- See the MySQL migration for why there are no foreign keys to lectures.

CREATE TABLE videos (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  lecture_id INTEGER NOT NULL,
  uploader_id INTEGER NOT NULL REFERENCES users (id),
  status TEXT NOT NULL,
  stage TEXT NOT NULL,
  progress REAL NOT NULL,
  error TEXT NOT NULL,
  version INTEGER NOT NULL,
  file_name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  upload_id TEXT NOT NULL,
  upload_expires_at DATETIME NOT NULL,
  media TEXT NULL,
  renditions TEXT NULL,
  transcoder_job_id TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  ready_at DATETIME NULL,
  replaced_at DATETIME NULL
);

CREATE INDEX videos_lecture ON videos (lecture_id, id);
CREATE INDEX videos_status ON videos (status, updated_at);
CREATE INDEX videos_upload_expiry ON videos (status, upload_expires_at);
CREATE INDEX videos_replaced ON videos (replaced_at);
