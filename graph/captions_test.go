package graph_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/captionfiles"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/sqldb"
)

// withCaptions gives the resolver the captions service on db and the
// bundle's blob store.
func withCaptions(db *sqldb.DB) option {
	return func(_ *graph.Config, r *graph.Resolver) {
		blobs := r.Uploads.Blobs
		r.Captions = &edustream.Captions{Store: sqldb.NewCaptionService(db, nil), Videos: r.VideoService, Lectures: r.LectureService,
			Courses: r.CourseService, Blobs: blobs, Format: &captionfiles.Format{Blobs: blobs}}
	}
}

// captionedLecture is a published course's lecture whose READY video has
// its stream in the blob store, and a student enrolled in the course.
func (b *bundle) captionedLecture(t *testing.T) (*edustream.Lecture, *edustream.Video) {
	t.Helper()
	course := b.seedCourse(t, b.instructor, "Course", 1, true)
	lecture := b.firstLecture(t, course)
	v := b.seedReadyVideo(t, lecture)
	for name, data := range testenv.HLSStream(t) {
		if err := b.blobs.Put(context.Background(), v.HLSPrefix()+name, bytes.NewReader(data), int64(len(data)), edustream.BlobMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	b.post(t, b.student, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
	return lecture, v
}

const addCaption = `mutation($in: AddCaptionInput!) { addCaption(input: $in) { id language label kind source status url error } }`

const (
	webVTT = "WEBVTT\n\n00:01.500 --> 00:04.000\nWelcome to the lecture.\n\n00:07.500 --> 00:09.000\nBinary search.\n"
	srt    = "1\n00:00:01,000 --> 00:00:03,000\nHallo zusammen.\n\n2\n00:00:05,000 --> 00:00:08,000\nBinäre Suche.\n"
)

func captionInput(l *edustream.Lecture, lang, content string) map[string]any {
	return map[string]any{"in": map[string]any{"lectureId": strconv.FormatInt(l.ID, 10), "language": lang, "content": content}}
}

func TestCaptionMutations(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	b := newBundle(t, db, withCaptions(db))
	lecture, _ := b.captionedLecture(t)

	en := b.post(t, b.instructor, addCaption, captionInput(lecture, "en-gb", webVTT)).NoErrors(t).Data["addCaption"].(map[string]any)
	if en["language"] != "en-GB" || en["label"] != "British English" || en["kind"] != "SUBTITLES" || en["source"] != "UPLOADED" ||
		en["status"] != "READY" || en["error"] != nil {
		t.Errorf("addCaption = %v", en)
	}
	if url, _ := en["url"].(string); !strings.HasPrefix(url, "http://edustream.test/play/") || !strings.Contains(url, "/captions/") || !strings.Contains(url, "sig=") {
		t.Errorf("url = %v, want a signed /play/ URL", en["url"])
	}
	vars := captionInput(lecture, "de", srt)
	vars["in"].(map[string]any)["kind"] = "CAPTIONS"
	vars["in"].(map[string]any)["label"] = "Deutsch (Hörgeschädigte)"
	de := b.post(t, b.admin, addCaption, vars).NoErrors(t).Data["addCaption"].(map[string]any)
	if de["kind"] != "CAPTIONS" || de["label"] != "Deutsch (Hörgeschädigte)" {
		t.Errorf("addCaption from SRT = %v", de)
	}

	t.Run("replace", func(t *testing.T) {
		again := b.post(t, b.instructor, addCaption, captionInput(lecture, "en-GB", webVTT)).NoErrors(t).Data["addCaption"].(map[string]any)
		if again["id"] != en["id"] || again["url"] == en["url"] {
			t.Errorf("replacement %v of %v: want the same id, a new url", again, en)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			user *edustream.User
			vars map[string]any
			code string
			want string
		}{
			{"anonymous", nil, captionInput(lecture, "en", webVTT), "UNAUTHENTICATED", ""},
			{"a student", b.student, captionInput(lecture, "en", webVTT), "FORBIDDEN", ""},
			{"another instructor", b.otherInstructor, captionInput(lecture, "en", webVTT), "FORBIDDEN", ""},
			{"a bad file", b.instructor, captionInput(lecture, "en", "WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 --> 00:02.500\nbackwards\n"), "BAD_USER_INPUT", "line 6"},
			{"markup", b.instructor, captionInput(lecture, "en", "WEBVTT\n\n00:01.000 --> 00:02.000\n<img src=x onerror=alert(1)>\n"), "BAD_USER_INPUT", "line 4"},
			{"a bad language", b.instructor, captionInput(lecture, "xx-!!", webVTT), "BAD_USER_INPUT", "BCP 47"},
			{"a missing lecture", b.instructor, map[string]any{"in": map[string]any{"lectureId": "999999", "language": "en", "content": webVTT}}, "NOT_FOUND", ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := b.post(t, tt.user, addCaption, tt.vars)
				if code := r.Code(t); code != tt.code || !strings.Contains(r.Errors[0].Message, tt.want) {
					t.Errorf("got %s %q, want %s containing %q", code, r.Errors[0].Message, tt.code, tt.want)
				}
			})
		}
	})

	t.Run("remove", func(t *testing.T) {
		remove := `mutation($id: ID!) { removeCaption(id: $id) }`
		if code := b.post(t, b.student, remove, map[string]any{"id": de["id"]}).Code(t); code != "FORBIDDEN" {
			t.Errorf("a student removing: %s", code)
		}
		r := b.post(t, b.instructor, remove, map[string]any{"id": de["id"]}).NoErrors(t)
		if r.Data["removeCaption"] != de["id"] {
			t.Errorf("removeCaption = %v, want %v", r.Data["removeCaption"], de["id"])
		}
		if code := b.post(t, b.instructor, remove, map[string]any{"id": de["id"]}).Code(t); code != "NOT_FOUND" {
			t.Errorf("removing again: %s", code)
		}
	})
}

// Whoever sees the video sees its tracks; the URL is for those who may
// watch, the failure reason for those who may edit.
func TestVideoCaptionsFollowThePolicy(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	b := newBundle(t, db, withCaptions(db))
	lecture, v := b.captionedLecture(t)
	b.post(t, b.instructor, addCaption, captionInput(lecture, "en", webVTT)).NoErrors(t)
	captions := sqldb.NewCaptionService(db, nil)
	failed := &edustream.Captions{Store: captions, Videos: b.videos, Lectures: b.lectures, Courses: b.courses, Blobs: b.blobs,
		Format: &captionfiles.Format{Blobs: b.blobs}}
	if err := failed.RecordAutomaticCaptionFailure(context.Background(), v, "fr", "the speech engine is not configured"); err != nil {
		t.Fatal(err)
	}

	query := `query($l: ID!) { lecture(id: $l) { video { captions { language label source status url error } } } }`
	vars := map[string]any{"l": strconv.FormatInt(lecture.ID, 10)}
	for _, tt := range []struct {
		name             string
		user             *edustream.User
		url, seesReasons bool
	}{
		{"instructor", b.instructor, true, true},
		{"admin", b.admin, true, true},
		{"enrolled student", b.student, true, false},
		{"another instructor", b.otherInstructor, false, false},
		{"anonymous", nil, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(t, tt.user, query, vars).NoErrors(t)
			list := r.Data["lecture"].(map[string]any)["video"].(map[string]any)["captions"].([]any)
			if len(list) != 2 {
				t.Fatalf("captions = %v", list)
			}
			en, fr := list[0].(map[string]any), list[1].(map[string]any)
			if en["language"] != "en" || en["status"] != "READY" || fr["language"] != "fr" || fr["status"] != "FAILED" ||
				fr["source"] != "AUTOMATIC" || fr["label"] != "français (automatic)" || fr["url"] != nil {
				t.Errorf("captions = %v", list)
			}
			if (en["url"] != nil) != tt.url {
				t.Errorf("url = %v, want shown %v", en["url"], tt.url)
			}
			if (fr["error"] == "the speech engine is not configured") != tt.seesReasons || (fr["error"] != nil) != tt.seesReasons {
				t.Errorf("error = %v, want shown %v", fr["error"], tt.seesReasons)
			}
		})
	}
}

// A course page's tracks are one query, however many videos it has.
func TestVideoCaptionsAreBatched(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	b := newBundle(t, db, withCaptions(db))
	course := b.seedCourse(t, b.instructor, "Course", 5, true)
	r := b.post(t, b.instructor, `query($c: ID!) { course(id: $c) { lectures { id } } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
	for _, l := range r.Data["course"].(map[string]any)["lectures"].([]any) {
		id, _ := strconv.ParseInt(l.(map[string]any)["id"].(string), 10, 64)
		b.seedReadyVideo(t, &edustream.Lecture{ID: id})
	}
	query := `query($c: ID!) { course(id: $c) { lectures { video { captions { id } } } } }`
	b.post(t, b.instructor, query, map[string]any{"c": idOf(course)}).NoErrors(t)
	before := b.queries.Load()
	b.post(t, b.instructor, query, map[string]any{"c": idOf(course)}).NoErrors(t)
	withCaptions := b.queries.Load() - before
	before = b.queries.Load()
	b.post(t, b.instructor, `query($c: ID!) { course(id: $c) { lectures { video { id } } } }`, map[string]any{"c": idOf(course)}).NoErrors(t)
	without := b.queries.Load() - before
	if withCaptions != without+1 {
		t.Errorf("the captions of 5 videos cost %d queries more, want 1", withCaptions-without)
	}
}
