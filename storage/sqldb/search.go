package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
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

// searchCandidates is the SQL, per engine, that picks the best
// MaxSearchHits matching documents (title hits first, then relevance)
// inside the engine, before any join: a common word matches a large part of
// a million cues, and joining each match to its course, lecture and track
// would cost far more than the engine's own ranking. Its placeholders take
// the title query, then the query (twice on MariaDB).
type searchCandidates struct {
	sql string
	// args renders the parsed query for the placeholders, in order.
	args func(fulltext.Query) []any
}

var mysqlCandidates = searchCandidates{
	// InnoDB gives every match a relevance above 0, even of a term found
	// in every document, so "> 0" tells title hits.
	sql: `SELECT d.id AS doc_id,
  MATCH (d.title_terms) AGAINST (? IN BOOLEAN MODE) > 0 AS title_hit,
  MATCH (d.title_terms, d.body_terms) AGAINST (? IN BOOLEAN MODE) AS score
FROM search_documents d
WHERE MATCH (d.title_terms, d.body_terms) AGAINST (? IN BOOLEAN MODE)
ORDER BY title_hit DESC, score DESC, d.id LIMIT ` + maxSearchHitsSQL,
	args: func(q fulltext.Query) []any { return []any{q.MySQL(), q.MySQL(), q.MySQL()} },
}

var sqliteCandidates = searchCandidates{
	// bm25 is lower for better matches; titles weigh twice.
	sql: `SELECT rowid AS doc_id,
  rowid IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?) AS title_hit,
  -bm25(search_fts, 2.0, 1.0) AS score
FROM search_fts
WHERE search_fts MATCH ?
ORDER BY title_hit DESC, score DESC, rowid LIMIT ` + maxSearchHitsSQL,
	args: func(q fulltext.Query) []any { return []any{"title_terms : (" + q.FTS5() + ")", q.FTS5()} },
}

var maxSearchHitsSQL = strconv.Itoa(edustream.MaxSearchHits)

// Search returns one page of hits the caller may see, best first, and how
// many there are among the best MaxSearchHits matches, with one query
// (COUNT(*) OVER () rides along; a page past the end counts with a
// second). The candidates are joined to their course (visibility), lecture
// (still there, its position, its current video) and track (READY, of that
// video); only the page's rows read their text, for the snippets. CROSS
// JOIN keeps the candidates the outer loop on SQLite, whose planner would
// otherwise walk every document of every visible course (MySQL reads it as
// a plain join).
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
	cand := mysqlCandidates
	if s.db.dialect.name == EngineSQLite {
		cand = sqliteCandidates
	}
	visible, args := searchVisible(cand.args(q), sq)
	with := `WITH cand AS (` + cand.sql + `),
vis AS (
  SELECT d.id, d.course_id, d.lecture_id, d.caption_id, d.cue_seq, cand.title_hit, cand.score, COALESCE(l.position, 0) AS position
  FROM cand
  CROSS JOIN search_documents d ON d.id = cand.doc_id
  CROSS JOIN courses c ON c.id = d.course_id
  LEFT JOIN lectures l ON l.id = d.lecture_id
  LEFT JOIN captions cap ON cap.id = d.caption_id
  WHERE c.deleted_at IS NULL AND ` + visible + `
    AND (d.kind = 'course' OR l.id IS NOT NULL)
    AND (d.kind <> 'cue' OR (cap.status = 'READY' AND cap.video_id = l.video_id))
)
`
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
		err := sc.Scan(&r.hit.CourseID, &r.hit.LectureID, &startMS, &r.courseTitle, &r.courseDesc, &r.lectureTitle, &r.lectureDesc, &r.cueText, &r.total)
		if startMS.Valid {
			at := time.Duration(startMS.Int64) * time.Millisecond
			r.hit.At = &at
		}
		return r, err
	}, with+`SELECT p.course_id, p.lecture_id, cc.start_ms, c.title, c.description,
  COALESCE(l.title, ''), COALESCE(l.description, ''), COALESCE(cc.text, ''), p.total
FROM (
  SELECT vis.*, COUNT(*) OVER () AS total FROM vis
  ORDER BY title_hit DESC, score DESC, course_id, position, cue_seq, id
  LIMIT ? OFFSET ?
) p
JOIN courses c ON c.id = p.course_id
LEFT JOIN lectures l ON l.id = p.lecture_id
LEFT JOIN caption_cues cc ON cc.caption_id = p.caption_id AND cc.seq = p.cue_seq
ORDER BY p.title_hit DESC, p.score DESC, p.course_id, p.position, p.cue_seq, p.id`, append(args, sq.Limit, sq.Offset)...)
	if err != nil {
		return nil, dbError(err, "search", "documents", 0)
	}
	res := &edustream.SearchResult{Hits: make([]edustream.SearchHit, 0, len(rows))}
	if len(rows) > 0 {
		res.Total = rows[0].total
	} else if err := h.queryRow(ctx, with+"SELECT COUNT(*) FROM vis", args...).Scan(&res.Total); err != nil {
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

// searchVisible returns the condition on c (courses) that keeps the
// courses the caller may see, CatalogFilter's rule, and args with its
// arguments appended.
func searchVisible(args []any, sq edustream.SearchQuery) (string, []any) {
	switch {
	case sq.AllDrafts:
		return "1 = 1", args
	case sq.DraftsOf != 0:
		return "(c.published_at IS NOT NULL OR c.instructor_id = ?)", append(args, sq.DraftsOf)
	}
	return "c.published_at IS NOT NULL", args
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
