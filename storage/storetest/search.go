package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
)

// SearchStore is a store with a search index, and the caption writes the
// index must follow.
type SearchStore struct {
	Store
	Search edustream.SearchService
	// PutCaption stores c as the track of its video's language (a new one,
	// or that track replaced in place) with its cues, through the store's
	// caption writes, and sets c.ID.
	PutCaption func(t *testing.T, c *edustream.Caption, cues []edustream.CaptionCue)
	// RemoveCaption removes a track and its cues.
	RemoveCaption func(t *testing.T, id int64)
}

// RunSearch runs the search conformance suite. open returns a new, empty
// store, like Run's.
func RunSearch(t *testing.T, open func(t *testing.T, now edustream.Clock) SearchStore) {
	tests := []struct {
		name string
		test func(*testing.T, *searchFixture)
	}{
		{"Ranking", testSearchRanking},
		{"Languages", testSearchLanguages},
		{"Captions", testSearchCaptions},
		{"Visibility", testSearchVisibility},
		{"FollowsWrites", testSearchFollowsWrites},
		{"Pages", testSearchPages},
		{"Input", testSearchInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock()
			s := open(t, clock.Now)
			if s.Search == nil || s.PutCaption == nil || s.RemoveCaption == nil {
				t.Fatalf("open returned a store without search or caption writes: %+v", s)
			}
			f := &searchFixture{Fixture: NewFixture(s.Store, clock), search: s.Search, putCaption: s.PutCaption, removeCaption: s.RemoveCaption}
			f.inst = f.User(t, "inst", edustream.RoleInstructor)
			tt.test(t, f)
		})
	}
}

type searchFixture struct {
	*Fixture
	search        edustream.SearchService
	putCaption    func(t *testing.T, c *edustream.Caption, cues []edustream.CaptionCue)
	removeCaption func(t *testing.T, id int64)
	inst          *edustream.User
}

// search returns every hit of text a student sees, in order, read in one
// page.
func (f *searchFixture) find(t *testing.T, text string) []edustream.SearchHit {
	t.Helper()
	return f.searchAs(t, edustream.SearchQuery{Text: text, Limit: 100}).Hits
}

func (f *searchFixture) searchAs(t *testing.T, q edustream.SearchQuery) *edustream.SearchResult {
	t.Helper()
	res, err := f.search.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("search %q: %v", q.Text, err)
	}
	if len(res.Hits) > max(res.Total-q.Offset, 0) || res.HasMore != (q.Offset+len(res.Hits) < res.Total) {
		t.Fatalf("search %q at %d: %d hits, total %d, hasMore %v do not add up", q.Text, q.Offset, len(res.Hits), res.Total, res.HasMore)
	}
	return res
}

// describe names hits compactly: "c<course>", "l<lecture>" or
// "l<lecture>@<seconds>".
func describe(hits []edustream.SearchHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		switch {
		case h.At != nil:
			out[i] = fmt.Sprintf("l%d@%g", h.LectureID, h.At.Seconds())
		case h.LectureID != 0:
			out[i] = fmt.Sprintf("l%d", h.LectureID)
		default:
			out[i] = fmt.Sprintf("c%d", h.CourseID)
		}
	}
	return out
}

func (f *searchFixture) want(t *testing.T, text string, want ...string) []edustream.SearchHit {
	t.Helper()
	hits := f.find(t, text)
	if got := describe(hits); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("search %q = %v, want %v", text, got, want)
	}
	return hits
}

func c(id int64) string                   { return fmt.Sprintf("c%d", id) }
func l(id int64) string                   { return fmt.Sprintf("l%d", id) }
func at(id int64, seconds float64) string { return fmt.Sprintf("l%d@%g", id, seconds) }

// course stores a published course with a description.
func (f *searchFixture) course(t *testing.T, title, description string) *edustream.Course {
	t.Helper()
	now := f.Clock.Now()
	c := &edustream.Course{InstructorID: f.inst.ID, Title: title, Description: description, PublishedAt: &now}
	if err := f.Courses.CreateCourse(context.Background(), c); err != nil {
		t.Fatalf("create course %s: %v", title, err)
	}
	return c
}

func (f *searchFixture) lecture(t *testing.T, courseID int64, title, description string) *edustream.Lecture {
	t.Helper()
	l := &edustream.Lecture{CourseID: courseID, Title: title, Description: description}
	if err := f.Lectures.CreateLecture(context.Background(), l); err != nil {
		t.Fatalf("create lecture %s: %v", title, err)
	}
	return l
}

// track gives the lecture a READY video and a READY track of cues, one
// every ten seconds, and returns the track.
func (f *searchFixture) track(t *testing.T, lecture *edustream.Lecture, language string, texts ...string) *edustream.Caption {
	t.Helper()
	video := lecture.VideoID
	if video == nil {
		v := f.readyVideo(t, lecture.ID, f.inst.ID, 600)
		video, lecture.VideoID = &v.ID, &v.ID
	}
	c := &edustream.Caption{VideoID: *video, LectureID: lecture.ID, Language: language, Label: language,
		Kind: edustream.CaptionSubtitles, Source: edustream.CaptionUploaded, Status: edustream.CaptionReady}
	f.putCaption(t, c, cues(texts...))
	return c
}

func cues(texts ...string) []edustream.CaptionCue {
	out := make([]edustream.CaptionCue, len(texts))
	for i, text := range texts {
		start := time.Duration(i*10)*time.Second + 500*time.Millisecond
		out[i] = edustream.CaptionCue{Start: start, End: start + 4*time.Second, Text: text}
	}
	return out
}

func testSearchRanking(t *testing.T, f *searchFixture) {
	go1 := f.course(t, "Concurrency in Go", "Goroutines, channels and the scheduler.")
	db := f.course(t, "Databases", "Transactions, isolation and some concurrency control.")
	lec := f.lecture(t, db.ID, "Locking", "Two-phase locking.")
	conc := f.lecture(t, db.ID, "Concurrency control", "How databases schedule transactions.")

	// Title hits rank above description hits; within a rank, the engine's
	// relevance, then course and lecture order.
	hits := f.find(t, "concurrency")
	got := describe(hits)
	if len(got) != 3 || !slices.Contains(got[:2], c(go1.ID)) || !slices.Contains(got[:2], l(conc.ID)) || got[2] != c(db.ID) {
		t.Fatalf("search concurrency = %v, want the two title hits (%s, %s) then the description hit %s", got, c(go1.ID), l(conc.ID), c(db.ID))
	}
	for _, h := range hits {
		if !strings.Contains(strings.ToLower(h.Snippet), "<mark>concurrency</mark>") {
			t.Errorf("snippet %q does not mark the match", h.Snippet)
		}
		if h.At != nil {
			t.Errorf("title or description hit %v has a time", h)
		}
	}
	if hits[2].Snippet != "Transactions, isolation and some <mark>concurrency</mark> control." {
		t.Errorf("description hit's snippet = %q", hits[2].Snippet)
	}
	if hits[2].CourseID != db.ID || hits[2].LectureID != 0 {
		t.Errorf("course hit = %+v", hits[2])
	}

	// Every term must match; case and accents fold; the last word matches
	// as a prefix.
	f.want(t, "two-phase LOCKING", l(lec.ID))
	f.want(t, "locking isolation")
	f.want(t, "goroutines sched", c(go1.ID))
	f.want(t, "databases sched", l(conc.ID))
	élève := f.course(t, "Le cours de l'élève", "Éducation")
	f.want(t, "ELEVE", c(élève.ID))
	f.want(t, "education", c(élève.ID))
	if got := f.find(t, "élève")[0].Snippet; got != "Le cours de l&#39;<mark>élève</mark>" {
		t.Errorf("snippet = %q", got)
	}
	// Short words and what InnoDB calls stop words are found too.
	ai := f.course(t, "AI for the web", "An intro")
	f.want(t, "ai", c(ai.ID))
	f.want(t, "for the", c(ai.ID))
	f.want(t, "an", c(ai.ID))
}

func testSearchLanguages(t *testing.T, f *searchFixture) {
	ko := f.course(t, "데이터 분석 입문", "파이썬으로 배우는 데이터 분석 강의입니다.")
	lec := f.lecture(t, ko.ID, "첫 번째 강의", "학습 목표와 준비물")
	f.track(t, lec, "ko", "안녕하세요, 오늘 강의를 시작하겠습니다.", "먼저 학습 환경을 설정합니다.")
	en := f.course(t, "Data analysis", "Learning with Python.")

	// The title hit first; the engines rank the others by relevance.
	if got := describe(f.find(t, "강의")); len(got) != 3 || got[0] != l(lec.ID) || !slices.Contains(got, c(ko.ID)) || !slices.Contains(got, at(lec.ID, 0.5)) {
		t.Errorf("search 강의 = %v, want %s then %s and %s", got, l(lec.ID), c(ko.ID), at(lec.ID, 0.5))
	}
	study := f.find(t, "학습")
	if got := slices.Sorted(slices.Values(describe(study))); !slices.Equal(got, []string{l(lec.ID), at(lec.ID, 10.5)}) {
		t.Errorf("search 학습 = %v, want %s and %s", got, l(lec.ID), at(lec.ID, 10.5))
	}
	f.want(t, "데이터", c(ko.ID))
	f.want(t, "데이터 분석", c(ko.ID))
	f.want(t, "파이썬", c(ko.ID))
	// A lone syllable matches words that start with it.
	f.want(t, "첫", l(lec.ID))
	f.want(t, "강의 python")
	f.want(t, "data", c(en.ID))
	f.want(t, "python", c(en.ID))
	for _, h := range study {
		if h.At != nil && h.Snippet != "먼저 <mark>학습</mark> 환경을 설정합니다." {
			t.Errorf("Korean cue snippet = %q", h.Snippet)
		}
	}
}

func testSearchCaptions(t *testing.T, f *searchFixture) {
	course := f.course(t, "Physics", "Mechanics")
	lec := f.lecture(t, course.ID, "Motion", "")
	track := f.track(t, lec, "en", "Welcome to the course.", "Newton's second law relates force and mass.", "Momentum is conserved.")

	// The hit lands on the cue's start.
	hits := f.want(t, "second law", at(lec.ID, 10.5))
	if h := hits[0]; h.CourseID != course.ID || h.Snippet != "Newton&#39;s <mark>second</mark> <mark>law</mark> relates force and mass." {
		t.Fatalf("hit = %+v", h)
	}
	f.want(t, "momentum", at(lec.ID, 20.5))

	// Replacing the track replaces its cues in the index.
	track.Status = edustream.CaptionReady
	f.putCaption(t, track, cues("Energy is conserved.", "Momentum again."))
	f.want(t, "newton")
	f.want(t, "energy", at(lec.ID, 0.5))
	f.want(t, "momentum", at(lec.ID, 10.5))

	// A second language is its own track.
	fr := f.track(t, lec, "fr", "La quantité de mouvement est conservée.")
	f.want(t, "quantite", at(lec.ID, 0.5))

	// A FAILED track has no text to find.
	fr.Status = edustream.CaptionFailed
	f.putCaption(t, fr, nil)
	f.want(t, "quantite")

	// A track of a video the lecture no longer plays is not found: its
	// times are another recording's.
	f.readyVideo(t, lec.ID, f.inst.ID, 300)
	f.want(t, "energy")

	// Removing a track removes its cues.
	lec2 := f.lecture(t, course.ID, "Waves", "")
	waves := f.track(t, lec2, "en", "Interference of waves.")
	f.want(t, "interference", at(lec2.ID, 0.5))
	f.removeCaption(t, waves.ID)
	f.want(t, "interference")
}

func testSearchVisibility(t *testing.T, f *searchFixture) {
	other := f.User(t, "other", edustream.RoleInstructor)
	admin := f.User(t, "admin", edustream.RoleAdmin)
	published := f.course(t, "Secret garden public", "")
	draft := f.Course(t, f.inst.ID, "Secret garden draft", false)
	draftLecture := f.lecture(t, draft.ID, "Secret lecture", "")
	f.track(t, draftLecture, "en", "A secret cue.")
	hidden := f.course(t, "Secret garden hidden", "")
	if err := f.Courses.HideCourse(context.Background(), hidden.ID); err != nil {
		t.Fatal(err)
	}

	catalog := func(u *edustream.User) edustream.SearchQuery {
		cf := edustream.CatalogFilter(u, edustream.CourseFilter{})
		return edustream.SearchQuery{Text: "secret", Limit: 100, AllDrafts: cf.AllDrafts, DraftsOf: cf.DraftsOf}
	}
	for _, tt := range []struct {
		who  string
		user *edustream.User
		want []string
	}{
		{"anonymous", nil, []string{c(published.ID)}},
		{"another instructor", other, []string{c(published.ID)}},
		{"a student", f.User(t, "student", edustream.RoleStudent), []string{c(published.ID)}},
		{"the draft's instructor", f.inst, []string{c(published.ID), c(draft.ID), l(draftLecture.ID), at(draftLecture.ID, 0.5)}},
		{"an admin", admin, []string{c(published.ID), c(draft.ID), l(draftLecture.ID), at(draftLecture.ID, 0.5)}},
	} {
		res := f.searchAs(t, catalog(tt.user))
		got := describe(res.Hits)
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) || res.Total != len(tt.want) {
			t.Errorf("%s finds %v (total %d), want %v", tt.who, got, res.Total, tt.want)
		}
	}

	// Publishing and unpublishing change what others find at once.
	if _, err := f.Courses.UpdateCourse(context.Background(), draft.ID, edustream.CourseUpdate{Published: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if got := f.searchAs(t, catalog(nil)).Total; got != 4 {
		t.Errorf("after publishing, %d hits, want 4", got)
	}
	if _, err := f.Courses.UpdateCourse(context.Background(), draft.ID, edustream.CourseUpdate{Published: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if got := f.searchAs(t, catalog(nil)); got.Total != 1 || len(got.Hits) != 1 {
		t.Errorf("after unpublishing, %v (total %d), want only the published course", describe(got.Hits), got.Total)
	}
}

func testSearchFollowsWrites(t *testing.T, f *searchFixture) {
	ctx := context.Background()
	course := f.course(t, "Astronomy", "Stars and planets")
	f.want(t, "astronomy", c(course.ID))

	if _, err := f.Courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Title: ptr("Cosmology")}); err != nil {
		t.Fatal(err)
	}
	f.want(t, "astronomy")
	f.want(t, "cosmology", c(course.ID))
	if _, err := f.Courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Description: ptr("Galaxies")}); err != nil {
		t.Fatal(err)
	}
	f.want(t, "planets")
	f.want(t, "galaxies", c(course.ID))

	lec := f.lecture(t, course.ID, "Redshift", "Doppler effect")
	f.want(t, "redshift", l(lec.ID))
	if _, err := f.Lectures.UpdateLecture(ctx, lec.ID, edustream.LectureUpdate{Title: ptr("Hubble law"), Description: ptr("Expansion")}); err != nil {
		t.Fatal(err)
	}
	f.want(t, "redshift")
	f.want(t, "doppler")
	f.want(t, "hubble expansion", l(lec.ID))
	// Moving keeps the lecture findable.
	first := f.lecture(t, course.ID, "Hubble telescope", "")
	if _, err := f.Lectures.MoveLecture(ctx, first.ID, 1); err != nil {
		t.Fatal(err)
	}
	f.want(t, "hubble telescope", l(first.ID))

	f.track(t, lec, "en", "The universe expands.")
	f.want(t, "universe", at(lec.ID, 0.5))
	if err := f.Lectures.DeleteLecture(ctx, lec.ID); err != nil {
		t.Fatal(err)
	}
	f.want(t, "hubble", l(first.ID))
	f.want(t, "universe")

	if err := f.Courses.HideCourse(ctx, course.ID); err != nil {
		t.Fatal(err)
	}
	f.want(t, "cosmology")
	if err := f.Courses.PurgeCourse(ctx, course.ID); err != nil {
		t.Fatal(err)
	}
	f.want(t, "cosmology")
}

func testSearchPages(t *testing.T, f *searchFixture) {
	var all []string
	for i := range 5 {
		course := f.course(t, fmt.Sprintf("Optics %d", i), "Light and lenses")
		lec := f.lecture(t, course.ID, "Lenses", "Optics of lenses")
		f.track(t, lec, "en", "Optics begins with light.", "More optics.", "Nothing here.")
		all = append(all, c(course.ID), l(lec.ID), at(lec.ID, 0.5), at(lec.ID, 10.5))
	}
	full := describe(f.find(t, "optics"))
	if got, want := slices.Sorted(slices.Values(full)), slices.Sorted(slices.Values(all)); !slices.Equal(got, want) {
		t.Fatalf("search optics = %v, want %v in some order", full, all)
	}
	// Pages of 3 are the full list cut in pieces, and agree on the total.
	var paged []string
	for offset := 0; ; offset += 3 {
		res := f.searchAs(t, edustream.SearchQuery{Text: "optics", Offset: offset, Limit: 3})
		if res.Total != len(all) {
			t.Fatalf("page at %d: total %d, want %d", offset, res.Total, len(all))
		}
		paged = append(paged, describe(res.Hits)...)
		if !res.HasMore {
			break
		}
	}
	if !slices.Equal(paged, full) {
		t.Fatalf("pages = %v, want %v", paged, full)
	}
	past := f.searchAs(t, edustream.SearchQuery{Text: "optics", Offset: 100, Limit: 3})
	if len(past.Hits) != 0 || past.Total != len(all) || past.HasMore {
		t.Fatalf("past the end: %+v", past)
	}
	counted := f.searchAs(t, edustream.SearchQuery{Text: "optics", Limit: 0})
	if len(counted.Hits) != 0 || counted.Total != len(all) || !counted.HasMore {
		t.Fatalf("limit 0: %+v", counted)
	}
}

func testSearchInput(t *testing.T, f *searchFixture) {
	course := f.course(t, "Drop table title design", "Tables and quotes near the title")
	ctx := context.Background()
	for _, text := range []string{"", "   ", strings.Repeat("a", edustream.MaxSearchQueryLength+1), "bad \xff utf-8"} {
		_, err := f.search.Search(ctx, edustream.SearchQuery{Text: text, Limit: 10})
		WantCode(t, err, edustream.EINVALID, "")
	}
	_, err := f.search.Search(ctx, edustream.SearchQuery{Text: strings.Repeat("é", edustream.MaxSearchQueryLength+1), Limit: 10})
	WantCode(t, err, edustream.EINVALID, fmt.Sprintf("search query must be at most %d characters, got %d", edustream.MaxSearchQueryLength, edustream.MaxSearchQueryLength+1))
	_, err = f.search.Search(ctx, edustream.SearchQuery{Text: "x", Limit: -1})
	WantCode(t, err, edustream.EINVALID, "")
	f.want(t, strings.Repeat("é", edustream.MaxSearchQueryLength))

	// Operators and engine syntax are plain separators: nothing to find,
	// never an engine error.
	for _, text := range []string{`+-*"()~<>@`, `"`, `*`, `(`, `^`, `:`, `'`, `\`, `%_`, "--", "; ; ;"} {
		f.want(t, text)
	}
	for _, text := range []string{`'; DROP TABLE; --`, `title:drop`, `NEAR(drop table)`, `drop*`, `"drop table`, `drop -table`, `{title}: drop`, `drop AND table`, `drop^ ~table`} {
		f.want(t, text, c(course.ID))
	}
	// OR is a word like any other, which the course does not hold.
	f.want(t, `drop" OR "1"="1`)
	if got := f.find(t, `"quotes`)[0].Snippet; got != "Tables and <mark>quotes</mark> near the title" {
		t.Errorf("snippet = %q", got)
	}
}

// ReadyVideo makes a READY video of duration seconds the lecture's current
// one, as the chain does, for an engine's own tests.
func (f *Fixture) ReadyVideo(t *testing.T, lectureID, uploaderID int64, duration float64) *edustream.Video {
	t.Helper()
	return f.readyVideo(t, lectureID, uploaderID, duration)
}
