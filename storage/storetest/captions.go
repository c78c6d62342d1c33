package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
)

// captionedVideo makes a READY video of a new lecture, which captions
// belong to.
func (f *Fixture) captionedVideo(t *testing.T, subject string) *edustream.Video {
	t.Helper()
	inst := f.User(t, subject, edustream.RoleInstructor)
	lecture := f.Lecture(t, f.Course(t, inst.ID, subject, true).ID, "l", 0)
	return f.readyVideo(t, lecture.ID, inst.ID, 60)
}

func testCaptions(t *testing.T, f *Fixture) {
	ctx := context.Background()
	v := f.captionedVideo(t, "inst")
	cues := []edustream.CaptionCue{
		{Start: 1500 * time.Millisecond, End: 4 * time.Second, Text: "Welcome to the lecture."},
		{Start: 7500 * time.Millisecond, End: 9 * time.Second, Text: "안녕하세요 & <goodbye>"},
	}
	newTrack := func(lang string, source edustream.CaptionSource) *edustream.Caption {
		return &edustream.Caption{VideoID: v.ID, LectureID: v.LectureID, Language: lang, Label: lang + " label",
			Kind: edustream.CaptionSubtitles, Source: source, Status: edustream.CaptionReady, CreatedBy: v.UploaderID}
	}

	en := newTrack("en", edustream.CaptionUploaded)
	var wrote *edustream.Caption
	replaced, err := f.Captions.PutCaption(ctx, en, cues, nil, func(c *edustream.Caption) error {
		copied := *c
		wrote = &copied
		return nil
	})
	if err != nil || replaced != nil {
		t.Fatalf("put a new track: replaced %v, %v", replaced, err)
	}
	t.Run("new", func(t *testing.T) {
		if en.ID == 0 || en.Version != 1 || en.CueCount != 2 || en.CreatedAt.IsZero() || en.CreatedAt.Location() != time.UTC {
			t.Errorf("stored %+v", en)
		}
		if wrote == nil || wrote.ID != en.ID || wrote.Version != 1 {
			t.Errorf("write saw %+v, want the final id and version", wrote)
		}
		got, err := f.Captions.FindCaptionByID(ctx, en.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(en, got); diff != "" {
			t.Errorf("FindCaptionByID (-put +found):\n%s", diff)
		}
		gotCues, err := f.Captions.FindCaptionCues(ctx, en.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(cues, gotCues); diff != "" {
			t.Errorf("cues (-put +found):\n%s", diff)
		}
	})

	t.Run("replace keeps the id and bumps the version", func(t *testing.T) {
		again := newTrack("en", edustream.CaptionUploaded)
		again.Label = "English (edited)"
		replaced, err := f.Captions.PutCaption(ctx, again, cues[:1], nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if replaced == nil || replaced.Version != 1 || replaced.ID != en.ID {
			t.Errorf("replaced %+v, want version 1 of %d", replaced, en.ID)
		}
		if again.ID != en.ID || again.Version != 2 || again.CueCount != 1 || !again.CreatedAt.Equal(en.CreatedAt) || !again.UpdatedAt.After(en.UpdatedAt) {
			t.Errorf("replacement %+v", again)
		}
		gotCues, _ := f.Captions.FindCaptionCues(ctx, en.ID)
		if len(gotCues) != 1 {
			t.Errorf("cues after the replacement: %+v", gotCues)
		}
		en = again
	})

	t.Run("keep", func(t *testing.T) {
		auto := newTrack("en", edustream.CaptionAutomatic)
		kept, err := f.Captions.PutCaption(ctx, auto, cues, func(e *edustream.Caption) bool { return e.Source == edustream.CaptionUploaded },
			func(*edustream.Caption) error { t.Error("write ran for a kept track"); return nil })
		WantCode(t, err, edustream.ECONFLICT, "")
		if kept == nil || kept.ID != en.ID || kept.Version != en.Version {
			t.Errorf("kept %+v, want %+v", kept, en)
		}
		if got, _ := f.Captions.FindCaptionByID(ctx, en.ID); got.Source != edustream.CaptionUploaded || got.Version != en.Version {
			t.Errorf("after a kept put: %+v", got)
		}
	})

	t.Run("a failed write rolls back", func(t *testing.T) {
		boom := errors.New("blob store down")
		_, err := f.Captions.PutCaption(ctx, newTrack("en", edustream.CaptionUploaded), nil, nil, func(*edustream.Caption) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the write's", err)
		}
		got, _ := f.Captions.FindCaptionByID(ctx, en.ID)
		if got.Version != en.Version || got.CueCount != 1 {
			t.Errorf("after a failed write: %+v, want %+v", got, en)
		}
		_, err = f.Captions.PutCaption(ctx, newTrack("fr", edustream.CaptionUploaded), cues, nil, func(*edustream.Caption) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the write's", err)
		}
		byVideo, _ := f.Captions.FindCaptionsByVideoIDs(ctx, []int64{v.ID})
		if len(byVideo[v.ID]) != 1 {
			t.Errorf("a new track whose write failed was stored: %+v", byVideo[v.ID])
		}
	})

	failed := newTrack("de", edustream.CaptionAutomatic)
	failed.Status, failed.Error = edustream.CaptionFailed, "the engine timed out"
	if _, err := f.Captions.PutCaption(ctx, failed, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	t.Run("by video, in language order", func(t *testing.T) {
		other := f.captionedVideo(t, "other")
		byVideo, err := f.Captions.FindCaptionsByVideoIDs(ctx, []int64{v.ID, other.ID, 999999})
		if err != nil {
			t.Fatal(err)
		}
		if len(byVideo) != 1 || len(byVideo[v.ID]) != 2 || byVideo[v.ID][0].Language != "de" || byVideo[v.ID][1].Language != "en" {
			t.Fatalf("FindCaptionsByVideoIDs = %+v", byVideo)
		}
		if got := byVideo[v.ID][0]; got.Status != edustream.CaptionFailed || got.Error != "the engine timed out" || got.CueCount != 0 {
			t.Errorf("failed track %+v", got)
		}
	})

	t.Run("missing", func(t *testing.T) {
		_, err := f.Captions.FindCaptionByID(ctx, 999999)
		WantCode(t, err, edustream.ENOTFOUND, "caption 999999 not found")
		_, err = f.Captions.FindCaptionCues(ctx, 999999)
		WantCode(t, err, edustream.ENOTFOUND, "")
		_, err = f.Captions.DeleteCaption(ctx, 999999)
		WantCode(t, err, edustream.ENOTFOUND, "caption 999999 not found")
		lost := newTrack("en", edustream.CaptionUploaded)
		lost.VideoID = 999999
		_, err = f.Captions.PutCaption(ctx, lost, cues, nil, nil)
		WantCode(t, err, edustream.ENOTFOUND, "")
	})

	t.Run("delete", func(t *testing.T) {
		deleted, err := f.Captions.DeleteCaption(ctx, failed.ID)
		if err != nil || deleted.ID != failed.ID || deleted.Language != "de" {
			t.Fatalf("DeleteCaption = %+v, %v", deleted, err)
		}
		_, err = f.Captions.FindCaptionByID(ctx, failed.ID)
		WantCode(t, err, edustream.ENOTFOUND, "")
	})

	t.Run("a deleted video takes its tracks", func(t *testing.T) {
		// A newer video replaces v; the cleanup deletes v's row.
		f.readyVideo(t, v.LectureID, v.UploaderID, 60)
		if err := f.Videos.DeleteVideo(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.Captions.FindCaptionByID(ctx, en.ID)
		WantCode(t, err, edustream.ENOTFOUND, "")
		_, err = f.Captions.FindCaptionCues(ctx, en.ID)
		WantCode(t, err, edustream.ENOTFOUND, "")
	})
}
