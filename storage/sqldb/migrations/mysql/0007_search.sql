-- The search index: one document per course (title, description), per
-- lecture (title, description) and per caption cue (text). The columns
-- hold the documents' terms as package fulltext encodes them, one plain
-- ASCII word per term, written from Go in the transaction that writes the
-- source row, so the index follows every write. InnoDB's own FULLTEXT
-- parser then only splits on spaces: its minimum token size, stop words
-- and missing n-gram parser never see user text (see internal/fulltext).
--
-- Visibility is not copied here: a search joins courses (published,
-- deleted), lectures and captions (READY, the lecture's current video), so
-- publishing or hiding a course changes what is found at once. The
-- documents of a course go when it is purged, a lecture's when it is
-- deleted, a track's when it is removed or replaced.
--
-- Rows that existed before this migration are indexed by Migrate right
-- after it (see reindexSearch).

CREATE TABLE IF NOT EXISTS search_documents (
  id BIGINT NOT NULL AUTO_INCREMENT,
  -- course, lecture or cue
  kind VARCHAR(8) NOT NULL,
  course_id BIGINT NOT NULL,
  -- 0 for a course's document.
  lecture_id BIGINT NOT NULL DEFAULT 0,
  -- The cue's track and place in it (caption_cues' key); 0 otherwise.
  caption_id BIGINT NOT NULL DEFAULT 0,
  cue_seq INT NOT NULL DEFAULT 0,
  title_terms TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- MEDIUMTEXT: the terms of a 10,000-character Korean description take
  -- about 150 kB.
  body_terms MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  PRIMARY KEY (id),
  KEY search_documents_course (course_id),
  KEY search_documents_lecture (lecture_id),
  KEY search_documents_caption (caption_id),
  -- Matching searches both columns; the title index tells title hits,
  -- which rank first.
  FULLTEXT KEY search_documents_terms (title_terms, body_terms),
  FULLTEXT KEY search_documents_title (title_terms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
