-- Videos: one row per uploaded source file of a lecture, with where the
-- transcoding chain has got. lectures.video_id points at the one that plays.
--
-- No foreign keys between videos and lectures, in either direction: a
-- lecture's videos outlive it until their blobs are deleted (deleting a
-- lecture or purging a course marks them replaced, and the cleanup task
-- removes blobs, then rows), and the code keeps lectures.video_id on a READY
-- video of the same lecture.

CREATE TABLE IF NOT EXISTS videos (
  id BIGINT NOT NULL AUTO_INCREMENT,
  lecture_id BIGINT NOT NULL,
  uploader_id BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  stage VARCHAR(16) NOT NULL,
  -- The whole chain's percent, 0..100.
  progress DOUBLE NOT NULL,
  error VARCHAR(1000) NOT NULL,
  -- Bumped on every change of status or stage; orders events.
  version BIGINT NOT NULL,
  file_name VARCHAR(255) NOT NULL,
  content_type VARCHAR(64) NOT NULL,
  size_bytes BIGINT NOT NULL,
  -- The blob store's multipart upload id; S3's may be long.
  upload_id VARCHAR(1024) NOT NULL,
  upload_expires_at DATETIME(6) NOT NULL,
  -- JSON: edustream.MediaInfo, then []edustream.Rendition.
  media TEXT NULL,
  renditions TEXT NULL,
  transcoder_job_id VARCHAR(128) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  ready_at DATETIME(6) NULL,
  replaced_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  -- A lecture's videos, newest last.
  KEY videos_lecture (lecture_id, id),
  -- The reconcilers: unfinished chains and expired uploads.
  KEY videos_status (status, updated_at),
  KEY videos_upload_expiry (status, upload_expires_at),
  KEY videos_replaced (replaced_at),
  CONSTRAINT videos_uploader_fk FOREIGN KEY (uploader_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
