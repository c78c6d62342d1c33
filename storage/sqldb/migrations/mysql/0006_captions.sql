-- Caption tracks: one per (video, language), uploaded by an instructor or
-- made by the captions step. A track's WebVTT lives in the blob store
-- (segmented for HLS, next to the video's stream); its cues are copied here
-- as plain text for search, with their start, so a hit can seek the player.
--
-- No foreign keys to videos or lectures, like lecture_progress: a purged
-- course's rows are deleted with it, and every read joins lectures.

CREATE TABLE IF NOT EXISTS captions (
  id BIGINT NOT NULL AUTO_INCREMENT,
  video_id BIGINT NOT NULL,
  lecture_id BIGINT NOT NULL,
  -- A BCP 47 tag in its canonical form ("en", "pt-BR", "zh-Hant").
  language VARCHAR(35) NOT NULL,
  label VARCHAR(100) NOT NULL,
  -- SUBTITLES or CAPTIONS; UPLOADED or AUTOMATIC; READY or FAILED.
  kind VARCHAR(16) NOT NULL,
  source VARCHAR(16) NOT NULL,
  status VARCHAR(16) NOT NULL,
  -- Why an automatic track failed, for the instructor.
  error VARCHAR(1000) NOT NULL DEFAULT '',
  cue_count INT NOT NULL DEFAULT 0,
  -- Bumped by every replacement, so the blob keys of a track's versions
  -- differ and a player never mixes two.
  version BIGINT NOT NULL DEFAULT 1,
  created_by BIGINT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY captions_video_language (video_id, language),
  KEY captions_lecture (lecture_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS caption_cues (
  caption_id BIGINT NOT NULL,
  -- The cue's place in its track, 1..n.
  seq INT NOT NULL,
  lecture_id BIGINT NOT NULL,
  start_ms BIGINT NOT NULL,
  end_ms BIGINT NOT NULL,
  -- The cue's text without markup, lines joined with a space.
  text TEXT NOT NULL,
  PRIMARY KEY (caption_id, seq),
  KEY caption_cues_lecture (lecture_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
