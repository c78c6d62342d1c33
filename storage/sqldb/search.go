package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/fulltext"
)

// Search: MariaDB FULLTEXT and SQLite FTS5 over search_documents (migration
// 0007), whose terms package fulltext computes. The write paths of courses,
// lectures and captions call the index* functions below inside their
// transactions, so the index follows every write; visibility is read from
// the source tables at search time.

// SearchService implements edustream.SearchService.
type SearchService struct {
	db *DB
}

var _ edustream.SearchService = (*SearchService)(nil)

// NewSearchService returns a SearchService on db.
func NewSearchService(db *DB) *SearchService { return &SearchService{db: db} }

// Document kinds, as search_documents.kind holds them.
const (
	docCourse  = "course"
	docLecture = "lecture"
	docCue     = "cue"
)

// searchDoc is one row of search_documents.
type searchDoc struct {
	kind                  string
	courseID, lectureID   int64
	captionID             int64
	cueSeq                int
	titleTerms, bodyTerms string
}

// replaceSearchDocs removes the documents matching where (a condition on
// search_documents without alias, e.g. "lecture_id = ?") and inserts docs,
// which must match where too: on SQLite the FTS5 table is told about both.
func replaceSearchDocs(ctx context.Context, tx handle, docs []searchDoc, where string, args ...any) error {
	sqlite := tx.db.dialect.name == EngineSQLite
	if sqlite {
		// An external-content FTS5 table forgets a row only when given the
		// exact terms it indexed.
		if _, err := tx.exec(ctx, "INSERT INTO search_fts (search_fts, rowid, title_terms, body_terms) SELECT 'delete', id, title_terms, body_terms FROM search_documents WHERE "+where, args...); err != nil {
			return err
		}
	}
	if _, err := tx.exec(ctx, "DELETE FROM search_documents WHERE "+where, args...); err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	const batch = 200
	for len(docs) > 0 {
		n := min(batch, len(docs))
		vals := make([]any, 0, n*7)
		for _, d := range docs[:n] {
			vals = append(vals, d.kind, d.courseID, d.lectureID, d.captionID, d.cueSeq, d.titleTerms, d.bodyTerms)
		}
		if _, err := tx.exec(ctx, "INSERT INTO search_documents (kind, course_id, lecture_id, caption_id, cue_seq, title_terms, body_terms) VALUES "+
			strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", n-1)+"(?, ?, ?, ?, ?, ?, ?)", vals...); err != nil {
			return err
		}
		docs = docs[n:]
	}
	if sqlite {
		_, err := tx.exec(ctx, "INSERT INTO search_fts (rowid, title_terms, body_terms) SELECT id, title_terms, body_terms FROM search_documents WHERE "+where, args...)
		return err
	}
	return nil
}

// indexCourse (re)indexes the title and description of a course.
func indexCourse(ctx context.Context, tx handle, courseID int64) error {
	var title, description string
	if err := tx.queryRow(ctx, "SELECT title, description FROM courses WHERE id = ?", courseID).Scan(&title, &description); err != nil {
		return err
	}
	doc := searchDoc{kind: docCourse, courseID: courseID, titleTerms: fulltext.IndexForm(title), bodyTerms: fulltext.IndexForm(description)}
	return replaceSearchDocs(ctx, tx, []searchDoc{doc}, "kind = 'course' AND course_id = ?", courseID)
}

// indexLecture (re)indexes the title and description of a lecture.
func indexLecture(ctx context.Context, tx handle, lectureID int64) error {
	var courseID int64
	var title, description string
	if err := tx.queryRow(ctx, "SELECT course_id, title, description FROM lectures WHERE id = ?", lectureID).Scan(&courseID, &title, &description); err != nil {
		return err
	}
	doc := searchDoc{kind: docLecture, courseID: courseID, lectureID: lectureID, titleTerms: fulltext.IndexForm(title), bodyTerms: fulltext.IndexForm(description)}
	return replaceSearchDocs(ctx, tx, []searchDoc{doc}, "kind = 'lecture' AND lecture_id = ?", lectureID)
}

// indexCaption brings the cues of a caption track into the index as its
// rows now stand: every cue of a READY track, nothing for a FAILED or
// removed one. The caption write paths (add, replace, remove, automatic
// tracks and their failures) call it in their transaction, after writing
// captions and caption_cues.
func indexCaption(ctx context.Context, tx handle, captionID int64) error {
	var lectureID, courseID int64
	var status string
	err := tx.queryRow(ctx, "SELECT cap.lecture_id, l.course_id, cap.status FROM captions cap JOIN lectures l ON l.id = cap.lecture_id WHERE cap.id = ?", captionID).
		Scan(&lectureID, &courseID, &status)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var docs []searchDoc
	if err == nil && status == string(edustream.CaptionReady) {
		docs, err = queryAll(ctx, tx, func(s scanner) (searchDoc, error) {
			d := searchDoc{kind: docCue, courseID: courseID, lectureID: lectureID, captionID: captionID}
			var text string
			err := s.Scan(&d.cueSeq, &text)
			d.bodyTerms = fulltext.IndexForm(text)
			return d, err
		}, "SELECT seq, text FROM caption_cues WHERE caption_id = ? ORDER BY seq", captionID)
		if err != nil {
			return err
		}
	}
	return replaceSearchDocs(ctx, tx, docs, "caption_id = ?", captionID)
}

// unindexLecture removes a deleted lecture's documents, its cues' too.
func unindexLecture(ctx context.Context, tx handle, lectureID int64) error {
	return replaceSearchDocs(ctx, tx, nil, "lecture_id = ?", lectureID)
}

// unindexCourse removes a purged course's documents.
func unindexCourse(ctx context.Context, tx handle, courseID int64) error {
	return replaceSearchDocs(ctx, tx, nil, "course_id = ?", courseID)
}

// reindexSearch indexes every course, lecture and caption track from
// scratch. Migrate runs it right after the migration that creates the
// index, so rows written before it are found too.
func reindexSearch(ctx context.Context, h handle) error {
	ids := func(query string) ([]int64, error) {
		return queryAll(ctx, h, func(s scanner) (int64, error) {
			var id int64
			return id, s.Scan(&id)
		}, query)
	}
	for _, step := range []struct {
		query string
		index func(context.Context, handle, int64) error
	}{
		{"SELECT id FROM courses", indexCourse},
		{"SELECT id FROM lectures", indexLecture},
		{"SELECT id FROM captions", indexCaption},
	} {
		list, err := ids(step.query)
		if err != nil {
			return err
		}
		for _, id := range list {
			if err := step.index(ctx, h, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// searchSQL is what differs between the engines' searches: how documents
// are matched and scored, and how a title hit is told.
type searchSQL struct {
	// from and match hold one placeholder between them, for the query.
	from, match, score, titleHit string
	// query and titleQuery render the parsed query for match and titleHit.
	query, titleQuery func(fulltext.Query) string
	// scoreTakesQuery: the score expression has its own placeholder.
	scoreTakesQuery bool
}

var mysqlSearch = searchSQL{
	from:            "search_documents d",
	match:           "MATCH (d.title_terms, d.body_terms) AGAINST (? IN BOOLEAN MODE)",
	score:           "MATCH (d.title_terms, d.body_terms) AGAINST (? IN BOOLEAN MODE)",
	scoreTakesQuery: true,
	// InnoDB gives every match a relevance above 0, even of a term found
	// in every document.
	titleHit:   "MATCH (d.title_terms) AGAINST (? IN BOOLEAN MODE) > 0",
	query:      fulltext.Query.MySQL,
	titleQuery: fulltext.Query.MySQL,
}

var sqliteSearch = searchSQL{
	// bm25 must be computed where the FTS5 table is scanned, not in the
	// query that joins, sorts and counts. It is lower for better matches;
	// titles weigh twice.
	from:       "(SELECT rowid AS doc_id, bm25(search_fts, 2.0, 1.0) AS rank FROM search_fts WHERE search_fts MATCH ?) m JOIN search_documents d ON d.id = m.doc_id",
	match:      "1 = 1",
	score:      "-m.rank",
	titleHit:   "d.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)",
	query:      fulltext.Query.FTS5,
	titleQuery: func(q fulltext.Query) string { return "title_terms : (" + q.FTS5() + ")" },
}

// Search returns one page of hits the caller may see, best first, and how
// many there are in all, with one query (COUNT(*) OVER () rides along;
// a page past the end counts with a second).
func (s *SearchService) Search(ctx context.Context, sq edustream.SearchQuery) (*edustream.SearchResult, error) {
	text, err := edustream.ValidateSearchText(sq.Text)
	if err != nil {
		return nil, err
	}
	if sq.Offset < 0 || sq.Limit < 0 {
		return nil, edustream.Errorf(edustream.EINVALID, "search offset and page size must not be negative")
	}
	q := fulltext.ParseQuery(text)
	if q.Empty() {
		return &edustream.SearchResult{Hits: []edustream.SearchHit{}}, nil
	}
	dialect := mysqlSearch
	if s.db.dialect.name == EngineSQLite {
		dialect = sqliteSearch
	}
	where, whereArgs := searchWhere(dialect, q, sq)
	args := []any{dialect.titleQuery(q)}
	if dialect.scoreTakesQuery {
		args = append(args, dialect.query(q))
	}
	args = append(args, whereArgs...)
	args = append(args, sq.Limit, sq.Offset)
	type row struct {
		hit                                                edustream.SearchHit
		courseTitle, courseDesc, lectureTitle, lectureDesc string
		cueText                                            string
		total                                              int
	}
	h := s.db.reader(ctx)
	rows, err := queryAll(ctx, h, func(sc scanner) (row, error) {
		var r row
		var startMS sql.NullInt64
		var titleHit bool
		var score float64
		err := sc.Scan(&r.hit.CourseID, &r.hit.LectureID, &startMS, &r.courseTitle, &r.courseDesc, &r.lectureTitle, &r.lectureDesc, &r.cueText, &titleHit, &score, &r.total)
		if startMS.Valid {
			at := time.Duration(startMS.Int64) * time.Millisecond
			r.hit.At = &at
		}
		return r, err
	}, `SELECT d.course_id, d.lecture_id, cc.start_ms, c.title, c.description,
  COALESCE(l.title, ''), COALESCE(l.description, ''), COALESCE(cc.text, ''),
  `+dialect.titleHit+` AS title_hit, `+dialect.score+` AS score, COUNT(*) OVER () AS total
`+where+`
ORDER BY title_hit DESC, score DESC, d.course_id, COALESCE(l.position, 0), COALESCE(cc.start_ms, -1), d.id
LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, dbError(err, "search", "documents", 0)
	}
	res := &edustream.SearchResult{Hits: make([]edustream.SearchHit, 0, len(rows))}
	if len(rows) > 0 {
		res.Total = rows[0].total
	} else if err := h.queryRow(ctx, "SELECT COUNT(*) "+where, whereArgs...).Scan(&res.Total); err != nil {
		return nil, dbError(err, "count", "search hits", 0)
	}
	for _, r := range rows {
		fields := []string{r.cueText}
		switch {
		case r.hit.At != nil:
		case r.hit.LectureID != 0:
			fields = []string{r.lectureTitle, r.lectureDesc}
		default:
			fields = []string{r.courseTitle, r.courseDesc}
		}
		r.hit.Snippet = fulltext.Snippet(bestField(fields, q), q, edustream.SnippetWidth)
		res.Hits = append(res.Hits, r.hit)
	}
	res.HasMore = sq.Offset+len(res.Hits) < res.Total
	return res, nil
}

// searchWhere returns the FROM and WHERE of a search: documents that
// match, of courses the caller may see (CatalogFilter's rule), of lectures
// that exist, of READY tracks of each lecture's current video.
func searchWhere(dialect searchSQL, q fulltext.Query, sq edustream.SearchQuery) (string, []any) {
	args := []any{dialect.query(q)}
	visible := "c.published_at IS NOT NULL"
	switch {
	case sq.AllDrafts:
		visible = "1 = 1"
	case sq.DraftsOf != 0:
		visible = "(c.published_at IS NOT NULL OR c.instructor_id = ?)"
		args = append(args, sq.DraftsOf)
	}
	return `FROM ` + dialect.from + `
JOIN courses c ON c.id = d.course_id
LEFT JOIN lectures l ON l.id = d.lecture_id
LEFT JOIN captions cap ON cap.id = d.caption_id
LEFT JOIN caption_cues cc ON cc.caption_id = d.caption_id AND cc.seq = d.cue_seq
WHERE ` + dialect.match + ` AND c.deleted_at IS NULL AND ` + visible + `
  AND (d.kind = 'course' OR l.id IS NOT NULL)
  AND (d.kind <> 'cue' OR (cap.status = 'READY' AND cap.video_id = l.video_id AND cc.seq IS NOT NULL))`, args
}

// bestField returns the field that meets the most clauses of q, the first
// one on a tie, for the snippet.
func bestField(fields []string, q fulltext.Query) string {
	best, bestN := fields[0], -1
	for _, f := range fields {
		if n := fulltext.Matches(f, q); n > bestN {
			best, bestN = f, n
		}
	}
	return best
}
