-- The search index. See the MySQL migration for the documents and their
-- encoded terms. Here the terms are the content of an external-content
-- FTS5 table, which the Go write paths keep in step in the same
-- transaction (FTS5 'delete' before a document goes, an insert after one
-- comes): the migration splitter takes no trigger bodies, and the terms
-- are computed in Go anyway.

CREATE TABLE search_documents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  course_id INTEGER NOT NULL,
  lecture_id INTEGER NOT NULL DEFAULT 0,
  caption_id INTEGER NOT NULL DEFAULT 0,
  cue_seq INTEGER NOT NULL DEFAULT 0,
  title_terms TEXT NOT NULL,
  body_terms TEXT NOT NULL
);

CREATE INDEX search_documents_course ON search_documents (course_id);
CREATE INDEX search_documents_lecture ON search_documents (lecture_id);
CREATE INDEX search_documents_caption ON search_documents (caption_id);

-- The terms are ASCII words already: the ascii tokenizer only splits them.
CREATE VIRTUAL TABLE search_fts USING fts5 (
  title_terms, body_terms,
  content = 'search_documents', content_rowid = 'id',
  tokenize = 'ascii'
);
