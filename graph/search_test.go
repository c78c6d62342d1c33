package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/vektah/gqlparser/v2"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/storage/sqldb"
)

const searchQuery = `query($q: String!, $first: Int, $after: String) {
  search(query: $q, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { course { id title } lecture { id title } atSeconds snippet } }
  }
}`

func setupSearch(t *testing.T) *bundle {
	t.Helper()
	db := openDB(t)
	return newBundle(t, db, func(_ *graph.Config, r *graph.Resolver) { r.SearchService = sqldb.NewSearchService(db) })
}

type searchPage struct {
	total     int
	next      bool
	endCursor string
	hits      []map[string]any
}

func (b *bundle) search(t *testing.T, user *edustream.User, vars map[string]any) searchPage {
	t.Helper()
	r := b.post(t, user, searchQuery, vars).NoErrors(t)
	s := r.Data["search"].(map[string]any)
	info := s["pageInfo"].(map[string]any)
	p := searchPage{total: int(s["totalCount"].(float64)), next: info["hasNextPage"].(bool)}
	if c, ok := info["endCursor"].(string); ok {
		p.endCursor = c
	}
	for _, e := range s["edges"].([]any) {
		p.hits = append(p.hits, e.(map[string]any)["node"].(map[string]any))
	}
	return p
}

func TestSearch(t *testing.T) {
	t.Parallel()
	b := setupSearch(t)
	ctx := context.Background()
	pub := &edustream.Course{InstructorID: b.instructor.ID, Title: "Signals and systems", Description: "Fourier <transforms> & filters", PublishedAt: ptrNow()}
	draft := &edustream.Course{InstructorID: b.instructor.ID, Title: "Signals draft", Description: "Not yet"}
	for _, c := range []*edustream.Course{pub, draft} {
		if err := b.courses.CreateCourse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	lec := &edustream.Lecture{CourseID: pub.ID, Title: "Sampling", Description: "Nyquist and the signals we sample"}
	if err := b.lectures.CreateLecture(ctx, lec); err != nil {
		t.Fatal(err)
	}
	ko := &edustream.Lecture{CourseID: pub.ID, Title: "신호 처리 강의", Description: "푸리에 변환을 학습합니다"}
	if err := b.lectures.CreateLecture(ctx, ko); err != nil {
		t.Fatal(err)
	}

	// A student sees the published course's hits, title hits first, and
	// neither the draft nor a count of it.
	p := b.search(t, b.student, map[string]any{"q": "signals"})
	if p.total != 2 || len(p.hits) != 2 || p.next {
		t.Fatalf("student's search: %+v", p)
	}
	first, second := p.hits[0], p.hits[1]
	if first["course"].(map[string]any)["id"] != fmt.Sprint(pub.ID) || first["lecture"] != nil || first["atSeconds"] != nil ||
		first["snippet"] != "<mark>Signals</mark> and systems" {
		t.Errorf("first hit = %v, want the course's title", first)
	}
	if second["lecture"].(map[string]any)["id"] != fmt.Sprint(lec.ID) || second["snippet"] != "Nyquist and the <mark>signals</mark> we sample" {
		t.Errorf("second hit = %v, want the lecture's description", second)
	}
	// The snippet is escaped HTML around the marks.
	if p := b.search(t, nil, map[string]any{"q": "fourier"}); len(p.hits) != 1 || p.hits[0]["snippet"] != "<mark>Fourier</mark> &lt;transforms&gt; &amp; filters" {
		t.Errorf("fourier: %+v", p)
	}
	// Korean, inside words.
	if p := b.search(t, nil, map[string]any{"q": "학습"}); len(p.hits) != 1 || p.hits[0]["lecture"].(map[string]any)["id"] != fmt.Sprint(ko.ID) ||
		p.hits[0]["snippet"] != "푸리에 변환을 <mark>학습</mark>합니다" {
		t.Errorf("학습: %+v", p)
	}

	// The draft's instructor and admins see it, as in the catalog.
	if p := b.search(t, b.instructor, map[string]any{"q": "signals"}); p.total != 3 {
		t.Errorf("instructor's search counts %d, want 3 with the draft", p.total)
	}
	if p := b.search(t, b.admin, map[string]any{"q": "draft"}); p.total != 1 {
		t.Errorf("admin's search counts %d, want the draft", p.total)
	}
	if p := b.search(t, b.otherInstructor, map[string]any{"q": "draft"}); p.total != 0 || len(p.hits) != 0 {
		t.Errorf("another instructor finds the draft: %+v", p)
	}

	// A page costs three round trips whatever its size: the search, its
	// courses, its lectures.
	b.queries.Store(0)
	b.search(t, b.student, map[string]any{"q": "signals"})
	if n := b.queries.Load(); n != 3 {
		t.Errorf("a page of search hits took %d round trips, want 3", n)
	}

	// Pages follow the cursor.
	one := b.search(t, b.student, map[string]any{"q": "signals", "first": 1})
	if len(one.hits) != 1 || !one.next || one.total != 2 {
		t.Fatalf("first page: %+v", one)
	}
	two := b.search(t, b.student, map[string]any{"q": "signals", "first": 1, "after": one.endCursor})
	if len(two.hits) != 1 || two.next || two.hits[0]["lecture"].(map[string]any)["id"] != fmt.Sprint(lec.ID) {
		t.Fatalf("second page: %+v", two)
	}
}

// Bad input is BAD_USER_INPUT with a message that says what is wrong, and
// engine syntax is ignored, never an error.
func TestSearchInput(t *testing.T) {
	t.Parallel()
	b := setupSearch(t)
	for _, tt := range []struct {
		vars map[string]any
		msg  string
	}{
		{map[string]any{"q": ""}, "search query must not be empty"},
		{map[string]any{"q": "  \t "}, "search query must not be empty"},
		{map[string]any{"q": strings.Repeat("강", 201)}, "search query must be at most 200 characters, got 201"},
		{map[string]any{"q": "x", "first": 101}, "first must be between 0 and 100, got 101"},
		{map[string]any{"q": "x", "first": -1}, "first must be between 0 and 100, got -1"},
		{map[string]any{"q": "x", "after": "not a cursor"}, "invalid cursor"},
		{map[string]any{"q": "x", "after": "Y291cnNlOjE"}, "invalid cursor"}, // a catalog cursor
	} {
		r := b.post(t, b.student, searchQuery, tt.vars)
		if r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Message != tt.msg || r.Status != 200 {
			t.Errorf("%v: %s, want BAD_USER_INPUT %q", tt.vars, r.Raw, tt.msg)
		}
	}
	for _, q := range []string{`+-*"()~<>@`, `'; DROP TABLE courses; --`, `NEAR(a b)`, `title:x`, `"unbalanced`, `*`, `a" OR "1"="1`} {
		if p := b.search(t, b.student, map[string]any{"q": q}); p.total != 0 || len(p.hits) != 0 {
			t.Errorf("%q: %+v", q, p)
		}
	}
}

// The complexity table charges search's edges at first, so its nested
// lists are bounded like the catalog's.
func TestSearchComplexity(t *testing.T) {
	t.Parallel()
	es := graph.ExecutableSchemaForTest()
	for _, tt := range []struct {
		query string
		want  int
	}{
		{`{ search(query: "x") { totalCount edges { cursor } } }`, 1 + 20*(1+1+1)},
		{`{ search(query: "x", first: 5) { edges { cursor } } }`, 1 + 5*(1+1)},
		{`{ search(query: "x", first: 1000) { edges { cursor } } }`, 1 + graph.MaxFirst*(1+1)},
	} {
		doc, errs := gqlparser.LoadQuery(es.Schema(), tt.query)
		if errs != nil {
			t.Fatal(errs)
		}
		if got := complexity.Calculate(context.Background(), es, doc.Operations[0], nil); got != tt.want {
			t.Errorf("%s costs %d, want %d", tt.query, got, tt.want)
		}
	}
	b := setupSearch(t)
	dear := `{ search(query: "x", first: 100) { edges { node { course { lectures { course { lectures { title } } } } } } } }`
	if r := b.post(t, b.student, dear, nil); r.Code(t) != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "complexity") {
		t.Errorf("a search nesting lectures in lectures: %s", r.Raw)
	}
}

func ptrNow() *time.Time {
	now := time.Now()
	return &now
}

// A caption hit carries the second its cue starts at, for the player to
// seek to.
func TestSearchCaptionHit(t *testing.T) {
	t.Parallel()
	b := setupSearch(t)
	course := b.seedCourse(t, b.instructor, "Optics", 1, true)
	lecture := b.firstLecture(t, course)
	video := b.seedReadyVideo(t, lecture)
	track := &edustream.Caption{VideoID: video.ID, LectureID: lecture.ID, Language: "en", Label: "English",
		Kind: edustream.CaptionSubtitles, Source: edustream.CaptionUploaded, Status: edustream.CaptionReady}
	cues := []edustream.CaptionCue{
		{Start: 1500 * time.Millisecond, End: 4 * time.Second, Text: "Light bends at an interface."},
		{Start: 7250 * time.Millisecond, End: 10 * time.Second, Text: "This is Snell's law of refraction."},
	}
	if _, err := sqldb.NewCaptionService(b.db, nil).PutCaption(context.Background(), track, cues, nil, nil); err != nil {
		t.Fatal(err)
	}
	p := b.search(t, nil, map[string]any{"q": "refraction"})
	if len(p.hits) != 1 || p.total != 1 {
		t.Fatalf("refraction: %+v", p)
	}
	hit := p.hits[0]
	if hit["atSeconds"] != 7.25 || hit["lecture"].(map[string]any)["id"] != fmt.Sprint(lecture.ID) ||
		hit["snippet"] != "This is Snell&#39;s law of <mark>refraction</mark>." {
		t.Errorf("caption hit = %v, want lecture %d at 7.25 s", hit, lecture.ID)
	}
}
