package sqldb

import (
	"context"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/storage/storetest"
)

// searchStoreOn is the search conformance suite's store on db; its caption
// writes go through the CaptionService, as the captions domain service's do.
func searchStoreOn(db *DB, now edustream.Clock) storetest.SearchStore {
	captions := NewCaptionService(db, now)
	return storetest.SearchStore{
		Store:  storeOn(db, now),
		Search: NewSearchService(db),
		PutCaption: func(t *testing.T, c *edustream.Caption, cues []edustream.CaptionCue) {
			t.Helper()
			if _, err := captions.PutCaption(context.Background(), c, cues, nil, nil); err != nil {
				t.Fatalf("put caption: %v", err)
			}
		},
		RemoveCaption: func(t *testing.T, id int64) {
			t.Helper()
			if _, err := captions.DeleteCaption(context.Background(), id); err != nil {
				t.Fatalf("remove caption %d: %v", id, err)
			}
		},
	}
}

// testSearchSQL checks what only the database shows of the search index:
// rows left behind, the FTS5 table's agreement with its content, the
// rebuild Migrate runs, round trips.
func testSearchSQL(t *testing.T, e engine) {
	ctx := context.Background()
	db := e.open(t, e.location(t))
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clock := storetest.NewClock()
	s := searchStoreOn(db, clock.Now)
	f := &fixture{Fixture: storetest.NewFixture(s.Store, clock), db: db}
	search := s.Search
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "Chemistry", true)
	lecture := f.Lecture(t, course.ID, "Acids and bases", 0)
	video := f.Fixture.ReadyVideo(t, lecture.ID, inst.ID, 60)
	track := &edustream.Caption{VideoID: video.ID, LectureID: lecture.ID, Language: "en", Label: "English",
		Kind: edustream.CaptionSubtitles, Source: edustream.CaptionUploaded, Status: edustream.CaptionReady}
	s.PutCaption(t, track, []edustream.CaptionCue{{Start: time.Second, End: 2 * time.Second, Text: "Acids donate protons."}})
	s.PutCaption(t, track, []edustream.CaptionCue{{Start: 3 * time.Second, End: 4 * time.Second, Text: "Bases accept protons."}})
	if _, err := f.Courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Title: ptr("Chemistry of acids")}); err != nil {
		t.Fatal(err)
	}
	find := func() []edustream.SearchHit {
		t.Helper()
		res, err := search.Search(ctx, edustream.SearchQuery{Text: "acids", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return res.Hits
	}
	if got := len(find()); got != 2 {
		t.Fatalf("%d hits for acids, want the course and the lecture", got)
	}

	t.Run("FTS5 agrees with its content", func(t *testing.T) {
		if db.Engine() != EngineSQLite {
			t.Skip("SQLite only")
		}
		if _, err := db.writer().exec(ctx, "INSERT INTO search_fts (search_fts, rank) VALUES ('integrity-check', 1)"); err != nil {
			t.Fatalf("integrity-check after updates and replacements: %v", err)
		}
	})

	t.Run("one round trip", func(t *testing.T) {
		queries := recordQueries(t, db)
		find()
		if got := queries(); len(got) != 1 {
			t.Errorf("%d round trips, want 1: %q", len(got), got)
		}
		queries = recordQueries(t, db)
		if _, err := search.Search(ctx, edustream.SearchQuery{Text: `"()*`, Limit: 10}); err != nil {
			t.Fatal(err)
		}
		if got := queries(); len(got) != 0 {
			t.Errorf("a query without terms made %d round trips: %q", len(got), got)
		}
	})

	t.Run("rebuild", func(t *testing.T) {
		before := find()
		wipe := []string{"DELETE FROM search_documents"}
		if db.Engine() == EngineSQLite {
			wipe = []string{"INSERT INTO search_fts (search_fts) VALUES ('delete-all')", "DELETE FROM search_documents"}
		}
		for _, q := range wipe {
			if _, err := db.writer().exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(find()); got != 0 {
			t.Fatalf("%d hits from a wiped index", got)
		}
		if err := db.inTx(ctx, func(tx handle) error { return reindexSearch(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
		if after := find(); len(after) != len(before) {
			t.Fatalf("after the rebuild %d hits, want %d", len(after), len(before))
		}
		res, err := search.Search(ctx, edustream.SearchQuery{Text: "bases accept", Limit: 10})
		if err != nil || len(res.Hits) != 1 || res.Hits[0].At == nil || *res.Hits[0].At != 3*time.Second {
			t.Fatalf("cue after the rebuild: %+v, %v", res, err)
		}
	})

	t.Run("purge leaves no documents", func(t *testing.T) {
		if err := f.Courses.HideCourse(ctx, course.ID); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, "SELECT COUNT(*) FROM search_documents WHERE course_id = ?", course.ID); n != 3 {
			t.Errorf("a hidden course has %d documents, want 3 until it is purged", n)
		}
		if err := f.Courses.PurgeCourse(ctx, course.ID); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, "SELECT COUNT(*) FROM search_documents"); n != 0 {
			t.Errorf("%d documents left after the purge", n)
		}
	})
}
