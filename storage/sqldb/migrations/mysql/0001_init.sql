-- The first schema: users, courses, lectures and enrollments.
--
-- MySQL commits every DDL statement on its own, so a run that dies halfway
-- leaves the statements before it applied: each statement here is written to
-- be re-run (IF NOT EXISTS), and the next Migrate finishes the job.
--
-- Ids are BIGINT AUTO_INCREMENT; times are DATETIME(6) holding UTC (the
-- connection forces loc=UTC); text is utf8mb4.

CREATE TABLE IF NOT EXISTS users (
  id BIGINT NOT NULL AUTO_INCREMENT,
  -- The token's sub. Compared byte for byte: subjects are case-sensitive.
  subject VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  email VARCHAR(320) NOT NULL,
  name VARCHAR(255) NOT NULL,
  role VARCHAR(16) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY users_subject (subject)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS courses (
  id BIGINT NOT NULL AUTO_INCREMENT,
  instructor_id BIGINT NOT NULL,
  title VARCHAR(200) NOT NULL,
  description TEXT NOT NULL,
  published_at DATETIME(6) NULL,
  -- Set when the course is hidden; the purge task removes the row later.
  deleted_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  -- The catalog: deleted_at IS NULL, newest id first, keyset on id. The
  -- index yields the visible courses already in id order, so a page stops
  -- after Limit+1 rows.
  KEY courses_catalog (deleted_at, id),
  -- "Courses I teach", and the foreign key's index.
  KEY courses_instructor (instructor_id, id),
  CONSTRAINT courses_instructor_fk FOREIGN KEY (instructor_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS lectures (
  id BIGINT NOT NULL AUTO_INCREMENT,
  course_id BIGINT NOT NULL,
  -- 1..n within the course. Not UNIQUE: renumbering shifts a range of rows
  -- with one UPDATE, which would collide midway; the course lock keeps
  -- positions contiguous instead.
  position INT NOT NULL,
  title VARCHAR(200) NOT NULL,
  description TEXT NOT NULL,
  -- The lecture's current video. No foreign key yet: the videos table comes
  -- with the video upload issue, whose migration adds videos.lecture_id ->
  -- lectures(id) and this column's constraint (and PurgeCourse must then
  -- delete the videos too).
  video_id BIGINT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  KEY lectures_course_position (course_id, position),
  CONSTRAINT lectures_course_fk FOREIGN KEY (course_id) REFERENCES courses (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS enrollments (
  user_id BIGINT NOT NULL,
  course_id BIGINT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  -- Also serves "courses this user is enrolled in" (the catalog's MineOf).
  PRIMARY KEY (user_id, course_id),
  -- PurgeCourse deletes by course, and the foreign key needs it.
  KEY enrollments_course (course_id),
  CONSTRAINT enrollments_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
  CONSTRAINT enrollments_course_fk FOREIGN KEY (course_id) REFERENCES courses (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
