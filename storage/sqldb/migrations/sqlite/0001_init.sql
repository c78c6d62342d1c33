-- The first schema: users, courses, lectures and enrollments.
--
-- AUTOINCREMENT so ids are never reused after a purge, as on MySQL: a reused
-- course id would confuse caches and keyset cursors. Times are DATETIME
-- columns holding integer microseconds since the Unix epoch, which the driver
-- scans back into time.Time (see sqliteParams in storage.go).

CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  -- The token's sub. SQLite compares text byte for byte by default.
  subject TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);

CREATE TABLE courses (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instructor_id INTEGER NOT NULL REFERENCES users (id),
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  published_at DATETIME NULL,
  -- Set when the course is hidden; the purge task removes the row later.
  deleted_at DATETIME NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);

-- The catalog: deleted_at IS NULL, newest id first, keyset on id.
CREATE INDEX courses_catalog ON courses (deleted_at, id);
CREATE INDEX courses_instructor ON courses (instructor_id, id);

CREATE TABLE lectures (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  course_id INTEGER NOT NULL REFERENCES courses (id),
  -- 1..n within the course. Not UNIQUE: renumbering shifts a range of rows
  -- with one UPDATE, which would collide midway; the write lock keeps
  -- positions contiguous instead.
  position INTEGER NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  -- The lecture's current video. No foreign key yet: the videos table comes
  -- with the video upload issue, whose migration adds videos.lecture_id ->
  -- lectures(id) and this column's constraint (and PurgeCourse must then
  -- delete the videos too).
  video_id INTEGER NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);

CREATE INDEX lectures_course_position ON lectures (course_id, position);

CREATE TABLE enrollments (
  user_id INTEGER NOT NULL REFERENCES users (id),
  course_id INTEGER NOT NULL REFERENCES courses (id),
  created_at DATETIME NOT NULL,
  PRIMARY KEY (user_id, course_id)
);

CREATE INDEX enrollments_course ON enrollments (course_id);
