-- Caption tracks and their cues. See the MySQL migration for the columns.

CREATE TABLE captions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  video_id INTEGER NOT NULL,
  lecture_id INTEGER NOT NULL,
  language TEXT NOT NULL,
  label TEXT NOT NULL,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  cue_count INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 1,
  created_by INTEGER NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  UNIQUE (video_id, language)
);

CREATE INDEX captions_lecture ON captions (lecture_id);

CREATE TABLE caption_cues (
  caption_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  lecture_id INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  text TEXT NOT NULL,
  -- A rowid table (not WITHOUT ROWID), so a full-text index can refer
  -- to its rows.
  UNIQUE (caption_id, seq)
);

CREATE INDEX caption_cues_lecture ON caption_cues (lecture_id);
