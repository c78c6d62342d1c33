package graph

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph/model"
)

// search answers Query.search: one page of hits in the courses the caller
// sees in the catalog, their courses and lectures read with one query each.
func (r *Resolver) search(ctx context.Context, query string, first *int, after *string) (*model.SearchConnection, error) {
	if err := r.mayBrowse(ctx); err != nil {
		return nil, err
	}
	if r.SearchService == nil {
		return nil, edustream.Errorf(edustream.EINTERNAL, "search is not configured")
	}
	u := edustream.UserFromContext(ctx)
	visible := edustream.CatalogFilter(u, edustream.CourseFilter{})
	limit, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	q := edustream.SearchQuery{Text: query, AllDrafts: visible.AllDrafts, DraftsOf: visible.DraftsOf, Limit: limit}
	if after != nil {
		offset, err := decodeSearchCursor(*after)
		if err != nil {
			return nil, err
		}
		q.Offset = offset
	}
	res, err := r.SearchService.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	courses, lectures, err := r.searchedRows(ctx, res.Hits)
	if err != nil {
		return nil, err
	}
	conn := &model.SearchConnection{
		Edges:      make([]*model.SearchEdge, 0, len(res.Hits)),
		PageInfo:   &model.PageInfo{HasNextPage: res.HasMore},
		TotalCount: res.Total,
	}
	for i, h := range res.Hits {
		hit := &model.SearchHit{Course: courses[h.CourseID], Snippet: h.Snippet}
		if h.LectureID != 0 {
			hit.Lecture = lectures[h.LectureID]
		}
		// The search applied the catalog's rule in SQL; checking again
		// keeps one rule for every field that hands out a course. A row
		// gone between the two reads is skipped too.
		if !edustream.CanViewCourse(u, hit.Course) || (h.LectureID != 0 && hit.Lecture == nil) {
			edustream.Logger(ctx).Warn("search hit not visible when read", "course_id", h.CourseID, "lecture_id", h.LectureID)
			continue
		}
		if h.At != nil {
			seconds := h.At.Seconds()
			hit.AtSeconds = &seconds
		}
		conn.Edges = append(conn.Edges, &model.SearchEdge{Cursor: encodeSearchCursor(q.Offset + i + 1), Node: hit})
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// searchedRows reads the courses and lectures of hits, one query each, and
// primes the operation's loaders with them for the fields below.
func (r *Resolver) searchedRows(ctx context.Context, hits []edustream.SearchHit) (map[int64]*edustream.Course, map[int64]*edustream.Lecture, error) {
	if len(hits) == 0 {
		return nil, nil, nil
	}
	var courseIDs, lectureIDs []int64
	for _, h := range hits {
		courseIDs = append(courseIDs, h.CourseID)
		if h.LectureID != 0 {
			lectureIDs = append(lectureIDs, h.LectureID)
		}
	}
	courses, err := r.CourseService.FindCoursesByIDs(ctx, courseIDs)
	if err != nil {
		return nil, nil, err
	}
	lectures, err := r.LectureService.FindLecturesByIDs(ctx, lectureIDs)
	if err != nil {
		return nil, nil, err
	}
	l := loadersFrom(ctx)
	for id, c := range courses {
		l.courseLoader().Prime(id, c)
	}
	for id, lecture := range lectures {
		l.lectureLoader().Prime(id, lecture)
	}
	r.queueSearchHits(ctx, courses, lectures)
	return courses, lectures, nil
}

// A search cursor is opaque to clients; inside it is the number of hits up
// to and including its edge, where the next page starts. Pages are stable
// while nothing is written; a write between two pages may shift hits by
// the number it added or removed before the cursor.
const searchCursorPrefix = "search:"

func encodeSearchCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(searchCursorPrefix + strconv.Itoa(offset)))
}

func decodeSearchCursor(s string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && strings.HasPrefix(string(b), searchCursorPrefix) {
		if n, err := strconv.Atoi(strings.TrimPrefix(string(b), searchCursorPrefix)); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, edustream.Errorf(edustream.EINVALID, "invalid cursor")
}
