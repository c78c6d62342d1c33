package edustream_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/captionfiles"
	"github.com/edustream/edustream/internal/testenv"
)

// captioned is the captions service on the lifecycle's doubles, with a
// READY video whose stream (made by ffmpeg: 10 s in 4 s MPEG-TS segments)
// is in the blob store, and the users who try to caption it.
type captioned struct {
	*life
	*edustream.Captions
	video                          *edustream.Video
	teacher, student, admin, other *edustream.User
}

func newCaptioned(t *testing.T) *captioned {
	t.Helper()
	ctx := context.Background()
	c := &captioned{life: newLife(t).withBlobs(t)}
	c.Captions = &edustream.Captions{Store: c.store, Videos: c.store, Lectures: c.store, Courses: c.store,
		Blobs: c.life.Blobs, Format: &captionfiles.Format{Blobs: c.life.Blobs}, Events: c.events}
	v := c.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageComplete})
	var err error
	if c.video, err = c.Complete(ctx, v); err != nil {
		t.Fatal(err)
	}
	putStream(t, c.Blobs, c.video)
	published := true
	if _, err := c.store.UpdateCourse(ctx, c.lecture.CourseID, edustream.CourseUpdate{Published: &published}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		to   **edustream.User
		sub  string
		role edustream.Role
	}{{&c.teacher, "ada", edustream.RoleInstructor}, {&c.student, "sam", edustream.RoleStudent},
		{&c.admin, "root", edustream.RoleAdmin}, {&c.other, "bob", edustream.RoleInstructor}} {
		if *u.to, err = c.store.UpsertUser(ctx, edustream.Claims{Subject: u.sub, Role: u.role, Name: u.sub}); err != nil {
			t.Fatal(err)
		}
	}
	c.events.Take()
	return c
}

// putStream publishes a 10-second stream of v (testenv.HLSStream).
func putStream(t *testing.T, blobs edustream.BlobStore, v *edustream.Video) {
	t.Helper()
	for name, b := range testenv.HLSStream(t) {
		if err := blobs.Put(context.Background(), v.HLSPrefix()+name, bytes.NewReader(b), int64(len(b)), edustream.BlobMeta{}); err != nil {
			t.Fatal(err)
		}
	}
}

const lectureVTT = `WEBVTT

1
00:00:01.500 --> 00:00:04.000
Welcome to <i>the</i> lecture.

2
00:00:07.500 --> 00:00:09.000
Today: binary search &amp; its bounds.
`

const lectureSRT = "1\r\n00:00:01,000 --> 00:00:03,000\r\nBonjour à <b>tous</b>.\r\n\r\n2\r\n00:00:05,000 --> 00:00:08,000\r\nLa recherche dichotomique.\r\n"

func (c *captioned) add(t *testing.T, u *edustream.User, lang, content string) (*edustream.Caption, error) {
	t.Helper()
	return c.Add(context.Background(), u, edustream.CaptionInput{LectureID: c.lecture.ID, Language: lang, Content: content})
}

func (c *captioned) blob(t *testing.T, key string) string {
	t.Helper()
	rc, err := c.Blobs.Get(context.Background(), key, 0, -1)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func (c *captioned) files(t *testing.T, cap *edustream.Caption) []string {
	t.Helper()
	list, err := c.Blobs.List(context.Background(), cap.BlobPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list {
		names = append(names, strings.TrimPrefix(b.Key, cap.BlobPrefix()))
	}
	return names
}

func TestCaptionsAddWebVTTAndSRT(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCaptioned(t)

	en, err := c.add(t, c.teacher, "en-us", lectureVTT)
	if err != nil {
		t.Fatal(err)
	}
	if en.Language != "en-US" || en.Label != "American English" || en.Kind != edustream.CaptionSubtitles ||
		en.Source != edustream.CaptionUploaded || en.Status != edustream.CaptionReady || en.CueCount != 2 ||
		en.VideoID != c.video.ID || en.Version != 1 || en.CreatedBy != c.teacher.ID {
		t.Errorf("added %+v", en)
	}
	cues, err := c.store.FindCaptionCues(ctx, en.ID)
	if err != nil || len(cues) != 2 || cues[0].Text != "Welcome to the lecture." || cues[1].Text != "Today: binary search & its bounds." ||
		cues[1].Start.Milliseconds() != 7500 {
		t.Errorf("cues %+v, %v", cues, err)
	}
	files := c.files(t, en)
	if len(files) < 3 || !strings.Contains(strings.Join(files, " "), edustream.CaptionPlaylistName) || !strings.Contains(strings.Join(files, " "), edustream.CaptionFileName) {
		t.Errorf("files of the track: %v", files)
	}
	playlist := c.blob(t, en.BlobPrefix()+edustream.CaptionPlaylistName)
	if !strings.Contains(playlist, "#EXTINF") || !strings.Contains(playlist, ".vtt") {
		t.Errorf("subtitle playlist:\n%s", playlist)
	}
	if got := c.events.Take(); len(got) != 1 || got[0].Content == nil || got[0].Content.VideoID != c.video.ID {
		t.Errorf("published %+v, want the video's content change", got)
	}

	fr, err := c.Add(ctx, c.admin, edustream.CaptionInput{LectureID: c.lecture.ID, Language: "fr", Label: " Français ",
		Kind: edustream.CaptionCaptions, Content: lectureSRT})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Label != "Français" || fr.Kind != edustream.CaptionCaptions || fr.CueCount != 2 {
		t.Errorf("added from SRT: %+v", fr)
	}
	if vtt := c.blob(t, fr.BlobPrefix()+edustream.CaptionFileName); !strings.HasPrefix(vtt, "WEBVTT") ||
		!strings.Contains(vtt, "00:00:01.000 --> 00:00:03.000") || !strings.Contains(vtt, "<b>tous</b>") {
		t.Errorf("SRT converted to:\n%s", vtt)
	}

	t.Run("replace", func(t *testing.T) {
		again, err := c.add(t, c.teacher, "en-US", strings.Replace(lectureVTT, "Welcome", "Hello", 1))
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != en.ID || again.Version != 2 {
			t.Errorf("replacement %+v, want version 2 of %d", again, en.ID)
		}
		if left := c.files(t, en); len(left) != 0 {
			t.Errorf("files of version 1 left: %v", left)
		}
		if vtt := c.blob(t, again.BlobPrefix()+edustream.CaptionFileName); !strings.Contains(vtt, "Hello") {
			t.Errorf("version 2:\n%s", vtt)
		}
	})

	t.Run("remove", func(t *testing.T) {
		if _, err := c.Remove(ctx, c.student, fr.ID); edustream.ErrorCode(err) != edustream.EFORBIDDEN {
			t.Errorf("a student removing: %v, want EFORBIDDEN", err)
		}
		if _, err := c.Remove(ctx, c.teacher, fr.ID); err != nil {
			t.Fatal(err)
		}
		if left := c.files(t, fr); len(left) != 0 {
			t.Errorf("files left: %v", left)
		}
		if _, err := c.store.FindCaptionByID(ctx, fr.ID); edustream.ErrorCode(err) != edustream.ENOTFOUND {
			t.Errorf("the row: %v", err)
		}
		if _, err := c.Remove(ctx, c.teacher, fr.ID); edustream.ErrorCode(err) != edustream.ENOTFOUND {
			t.Errorf("removing again: %v, want ENOTFOUND", err)
		}
	})
}

func TestCaptionsRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCaptioned(t)
	for _, tt := range []struct {
		name string
		u    *edustream.User
		in   edustream.CaptionInput
		code string
		want string
	}{
		{"anonymous", nil, edustream.CaptionInput{Language: "en", Content: lectureVTT}, edustream.EUNAUTHENTICATED, ""},
		{"a student", c.student, edustream.CaptionInput{Language: "en", Content: lectureVTT}, edustream.EFORBIDDEN, ""},
		{"another instructor", c.other, edustream.CaptionInput{Language: "en", Content: lectureVTT}, edustream.EFORBIDDEN, ""},
		{"no language", c.teacher, edustream.CaptionInput{Content: lectureVTT}, edustream.EINVALID, "language must be a BCP 47 tag"},
		{"not BCP 47", c.teacher, edustream.CaptionInput{Language: "english!", Content: lectureVTT}, edustream.EINVALID, "not a BCP 47 tag"},
		{"undetermined", c.teacher, edustream.CaptionInput{Language: "und", Content: lectureVTT}, edustream.EINVALID, "must name a language"},
		{"bad kind", c.teacher, edustream.CaptionInput{Language: "en", Kind: "KARAOKE", Content: lectureVTT}, edustream.EINVALID, "kind must be"},
		{"long label", c.teacher, edustream.CaptionInput{Language: "en", Label: strings.Repeat("é", 101), Content: lectureVTT}, edustream.EINVALID, "label must be at most 100"},
		{"too big", c.teacher, edustream.CaptionInput{Language: "en", Content: "WEBVTT\n\n" + strings.Repeat("x", edustream.MaxCaptionBytes)}, edustream.EINVALID, "may be at most 512.0 KiB"},
		{"end before start", c.teacher, edustream.CaptionInput{Language: "en", Content: "WEBVTT\n\n00:02.000 --> 00:01.000\nHi\n"}, edustream.EINVALID, "line 3:"},
		{"script", c.teacher, edustream.CaptionInput{Language: "en", Content: "WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n\n00:03.000 --> 00:04.000\n<script>alert(1)</script>\n"}, edustream.EINVALID, "line 7:"},
		{"past the video's end", c.teacher, edustream.CaptionInput{Language: "en", Content: "WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n\n01:00.000 --> 01:02.000\nLate\n"}, edustream.EINVALID, "line 6:"},
		{"not a caption file", c.teacher, edustream.CaptionInput{Language: "en", Content: "hello world"}, edustream.EINVALID, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.LectureID = c.lecture.ID
			_, err := c.Add(ctx, tt.u, tt.in)
			if edustream.ErrorCode(err) != tt.code || !strings.Contains(edustream.ErrorMessage(err), tt.want) {
				t.Errorf("err = %v (%s), want %s containing %q", err, edustream.ErrorCode(err), tt.code, tt.want)
			}
		})
	}
	if byVideo, _ := c.store.FindCaptionsByVideoIDs(ctx, []int64{c.video.ID}); len(byVideo) != 0 {
		t.Errorf("refused tracks were stored: %+v", byVideo)
	}
	if list, _ := c.Blobs.List(ctx, edustream.VideoPrefix(c.video.ID)+"captions/"); len(list) != 0 {
		t.Errorf("refused tracks left files: %+v", list)
	}

	t.Run("a lecture without a video", func(t *testing.T) {
		bare := &edustream.Lecture{CourseID: c.lecture.CourseID, Title: "Bare"}
		if err := c.store.CreateLecture(ctx, bare); err != nil {
			t.Fatal(err)
		}
		_, err := c.Add(ctx, c.teacher, edustream.CaptionInput{LectureID: bare.ID, Language: "en", Content: lectureVTT})
		if edustream.ErrorCode(err) != edustream.EINVALID || !strings.Contains(err.Error(), "no ready video") {
			t.Errorf("err = %v, want EINVALID saying it has no video", err)
		}
	})
}

// The chain's automatic tracks never replace an uploaded one, and an
// upload replaces them; a failure is recorded without touching a READY
// track.
func TestCaptionsAutomatic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCaptioned(t)
	uploaded, err := c.add(t, c.teacher, "en", lectureVTT)
	if err != nil {
		t.Fatal(err)
	}

	kept, err := c.PutAutomaticCaption(ctx, c.video, "en", []byte(lectureVTT))
	if err != nil || kept.ID != uploaded.ID || kept.Source != edustream.CaptionUploaded || kept.Version != 1 {
		t.Fatalf("automatic over uploaded = %+v, %v; want the uploaded track, unchanged", kept, err)
	}
	if err := c.RecordAutomaticCaptionFailure(ctx, c.video, "en", "no engine"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.store.FindCaptionByID(ctx, uploaded.ID); got.Status != edustream.CaptionReady || got.Version != 1 {
		t.Errorf("a failure touched the uploaded track: %+v", got)
	}

	de, err := c.PutAutomaticCaption(ctx, c.video, "de", []byte(lectureVTT))
	if err != nil {
		t.Fatal(err)
	}
	if de.Source != edustream.CaptionAutomatic || de.Label != "Deutsch (automatic)" || de.Status != edustream.CaptionReady || de.CreatedBy != 0 {
		t.Errorf("automatic track %+v", de)
	}
	again, err := c.PutAutomaticCaption(ctx, c.video, "de", []byte(lectureVTT))
	if err != nil || again.ID != de.ID || again.Version != 2 {
		t.Errorf("the step again: %+v, %v; want version 2 of the same track", again, err)
	}
	replaced, err := c.add(t, c.teacher, "de", lectureVTT)
	if err != nil || replaced.ID != de.ID || replaced.Source != edustream.CaptionUploaded || replaced.Label != "Deutsch" {
		t.Errorf("an upload over the automatic track: %+v, %v", replaced, err)
	}

	if err := c.RecordAutomaticCaptionFailure(ctx, c.video, "es", "the engine timed out after 10m0s"); err != nil {
		t.Fatal(err)
	}
	byVideo, _ := c.store.FindCaptionsByVideoIDs(ctx, []int64{c.video.ID})
	var es *edustream.Caption
	for _, cap := range byVideo[c.video.ID] {
		if cap.Language == "es" {
			es = cap
		}
	}
	if es == nil || es.Status != edustream.CaptionFailed || es.Error != "the engine timed out after 10m0s" || es.Source != edustream.CaptionAutomatic {
		t.Fatalf("failed track %+v", es)
	}
	if files := c.files(t, es); len(files) != 0 {
		t.Errorf("a failed track has files: %v", files)
	}
	// The engine's next run makes the track.
	fixed, err := c.PutAutomaticCaption(ctx, c.video, "es", []byte(lectureVTT))
	if err != nil || fixed.ID != es.ID || fixed.Status != edustream.CaptionReady || fixed.Error != "" {
		t.Errorf("after the failure: %+v, %v", fixed, err)
	}

	if _, err := c.PutAutomaticCaption(ctx, c.video, "it", []byte("garbage")); edustream.ErrorCode(err) != edustream.EINVALID {
		t.Errorf("an engine's bad file: %v, want EINVALID", err)
	}
}

// A new video of the lecture starts without tracks, and the old video's
// go with its outputs.
func TestCaptionsBelongToTheirVideo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCaptioned(t)
	en, err := c.add(t, c.teacher, "en", lectureVTT)
	if err != nil {
		t.Fatal(err)
	}
	next := c.videoAt(t, edustream.VideoState{Status: edustream.VideoProcessing, Stage: edustream.StageComplete})
	if _, err := c.Complete(ctx, next); err != nil {
		t.Fatal(err)
	}
	if byVideo, _ := c.store.FindCaptionsByVideoIDs(ctx, []int64{next.ID}); len(byVideo) != 0 {
		t.Errorf("the new video has tracks: %+v", byVideo)
	}
	old, err := c.store.FindVideoByID(ctx, c.video.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VideoLifecycle.Remove(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.FindCaptionByID(ctx, en.ID); edustream.ErrorCode(err) != edustream.ENOTFOUND {
		t.Errorf("the old video's track: %v, want ENOTFOUND", err)
	}
	if left := c.files(t, en); len(left) != 0 {
		t.Errorf("the old video's track files: %v", left)
	}
}
