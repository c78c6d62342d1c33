package sqldb

import (
	"context"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/storage/storetest"
)

// searchStoreOn is the search conformance suite's store on db. Its caption
// writes stand in for the captions service: they write the rows and call
// indexCaption in the same transaction, as every caption write must.
func searchStoreOn(db *DB, now edustream.Clock) storetest.SearchStore {
	return storetest.SearchStore{
		Store:  storeOn(db, now),
		Search: NewSearchService(db),
		PutCaption: func(t *testing.T, c *edustream.Caption, cues []edustream.CaptionCue) {
			t.Helper()
			if err := putCaptionRows(context.Background(), db, c, cues); err != nil {
				t.Fatalf("put caption: %v", err)
			}
		},
		RemoveCaption: func(t *testing.T, id int64) {
			t.Helper()
			err := db.inTx(context.Background(), func(tx handle) error {
				for _, q := range []string{"DELETE FROM caption_cues WHERE caption_id = ?", "DELETE FROM captions WHERE id = ?"} {
					if _, err := tx.exec(context.Background(), q, id); err != nil {
						return err
					}
				}
				return indexCaption(context.Background(), tx, id)
			})
			if err != nil {
				t.Fatalf("remove caption %d: %v", id, err)
			}
		},
	}
}

// putCaptionRows inserts or replaces a track and its cues with plain SQL.
func putCaptionRows(ctx context.Context, db *DB, c *edustream.Caption, cues []edustream.CaptionCue) error {
	now := utcMicro(time.Now())
	return db.inTx(ctx, func(tx handle) error {
		if c.ID == 0 {
			res, err := tx.exec(ctx, `INSERT INTO captions (video_id, lecture_id, language, label, kind, source, status, cue_count, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.VideoID, c.LectureID, c.Language, c.Label, c.Kind, c.Source, c.Status, len(cues), now, now)
			if err != nil {
				return err
			}
			if c.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		} else if _, err := tx.exec(ctx, "UPDATE captions SET status = ?, cue_count = ?, version = version + 1, updated_at = ? WHERE id = ?",
			c.Status, len(cues), now, c.ID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "DELETE FROM caption_cues WHERE caption_id = ?", c.ID); err != nil {
			return err
		}
		for i, cue := range cues {
			if _, err := tx.exec(ctx, "INSERT INTO caption_cues (caption_id, seq, lecture_id, start_ms, end_ms, text) VALUES (?, ?, ?, ?, ?, ?)",
				c.ID, i+1, c.LectureID, cue.Start.Milliseconds(), cue.End.Milliseconds(), cue.Text); err != nil {
				return err
			}
		}
		return indexCaption(ctx, tx, c.ID)
	})
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
