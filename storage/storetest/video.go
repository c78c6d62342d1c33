package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/edustream/edustream"
)

// video creates an upload on lecture by uploader, expiring in an hour of the
// fixture's clock.
func (f *Fixture) video(t *testing.T, lectureID, uploaderID int64) *edustream.Video {
	t.Helper()
	v := &edustream.Video{LectureID: lectureID, UploaderID: uploaderID, FileName: "talk.mp4", ContentType: "video/mp4",
		SizeBytes: 12345, UploadID: "upload-1", UploadExpiresAt: f.Clock.Now().Add(time.Hour)}
	if err := f.Videos.CreateVideo(context.Background(), v); err != nil {
		t.Fatalf("create video: %v", err)
	}
	return v
}

// move transitions v and fails the test on error.
func (f *Fixture) move(t *testing.T, v *edustream.Video, upd edustream.VideoUpdate) *edustream.Video {
	t.Helper()
	moved, err := f.Videos.TransitionVideo(context.Background(), v.ID, v.Status, v.Stage, upd)
	if err != nil {
		t.Fatalf("transition video %d from %s/%s: %v", v.ID, v.Status, v.Stage, err)
	}
	return moved
}

// walk moves an uploaded video through every stage to COMPLETE.
func (f *Fixture) walkToComplete(t *testing.T, v *edustream.Video) *edustream.Video {
	t.Helper()
	v = f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoUploaded), Stage: ptr(edustream.StageProbe)})
	v = f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoProcessing)})
	for v.Stage != edustream.StageComplete {
		next, _ := v.Stage.Next()
		v = f.move(t, v, edustream.VideoUpdate{Stage: &next})
	}
	return v
}

func testVideos(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)
	lecture := f.Lecture(t, course.ID, "l", 0)

	v := f.video(t, lecture.ID, inst.ID)
	t.Run("create", func(t *testing.T) {
		if v.ID == 0 || v.Status != edustream.VideoAwaitingUpload || v.Stage != edustream.StageUpload || v.Version != 1 {
			t.Errorf("created %+v", v)
		}
		got, err := f.Videos.FindVideoByID(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, got); diff != "" {
			t.Errorf("FindVideoByID (-created +found):\n%s", diff)
		}
	})
	t.Run("missing lecture", func(t *testing.T) {
		err := f.Videos.CreateVideo(ctx, &edustream.Video{LectureID: 424242, UploaderID: inst.ID, FileName: "x", ContentType: "video/mp4", SizeBytes: 1})
		WantCode(t, err, edustream.ENOTFOUND, "lecture 424242 not found")
		_, err = f.Videos.FindVideoByID(ctx, 424242)
		WantCode(t, err, edustream.ENOTFOUND, "video 424242 not found")
	})

	media := &edustream.MediaInfo{FormatName: "mov,mp4", DurationSeconds: 10.5, SizeBytes: 12345, Width: 1280, Height: 720,
		FrameRate: 30, VideoCodec: "h264", AudioCodec: "aac"}
	t.Run("conditional transitions", func(t *testing.T) {
		moved := f.move(t, v, edustream.VideoUpdate{Status: ptr(edustream.VideoUploaded), Stage: ptr(edustream.StageProbe)})
		if moved.Version != 2 || moved.Status != edustream.VideoUploaded || moved.Stage != edustream.StageProbe || !moved.UpdatedAt.After(v.UpdatedAt) {
			t.Errorf("after upload: %+v", moved)
		}
		// A second attempt from the old state finds it moved.
		_, err := f.Videos.TransitionVideo(ctx, v.ID, edustream.VideoAwaitingUpload, edustream.StageUpload, edustream.VideoUpdate{Status: ptr(edustream.VideoUploaded)})
		WantCode(t, err, edustream.ECONFLICT, "")
		_, err = f.Videos.TransitionVideo(ctx, 424242, edustream.VideoUploaded, edustream.StageProbe, edustream.VideoUpdate{})
		WantCode(t, err, edustream.ENOTFOUND, "")

		moved = f.move(t, moved, edustream.VideoUpdate{Status: ptr(edustream.VideoProcessing)})
		// Progress alone does not bump the version.
		if err := f.Videos.SetVideoProgress(ctx, v.ID, edustream.StageProbe, 1.5); err != nil {
			t.Fatal(err)
		}
		got, _ := f.Videos.FindVideoByID(ctx, v.ID)
		if got.Progress != 1.5 || got.Version != moved.Version {
			t.Errorf("after SetVideoProgress: progress %v version %d, want 1.5 and %d", got.Progress, got.Version, moved.Version)
		}
		// Progress for a stage the video has left is ignored.
		moved = f.move(t, got, edustream.VideoUpdate{Stage: ptr(edustream.StageTranscode), Media: media, Progress: ptr(2.0)})
		if err := f.Videos.SetVideoProgress(ctx, v.ID, edustream.StageProbe, 50); err != nil {
			t.Fatal(err)
		}
		got, _ = f.Videos.FindVideoByID(ctx, v.ID)
		if got.Progress != 2 || !cmp.Equal(got.Media, media) {
			t.Errorf("after a stale SetVideoProgress: progress %v media %+v", got.Progress, got.Media)
		}
		ladder := edustream.Ladder(media)
		moved = f.move(t, moved, edustream.VideoUpdate{Stage: ptr(edustream.StagePublish), Renditions: ladder, TranscoderJobID: ptr("job-1")})
		if diff := cmp.Diff(ladder, moved.Renditions); diff != "" || moved.TranscoderJobID != "job-1" {
			t.Errorf("renditions (-want +got):\n%s job %q", diff, moved.TranscoderJobID)
		}
	})
	t.Run("a long failure reason is cut to fit", func(t *testing.T) {
		other := f.Lecture(t, course.ID, "long reason", 0)
		ov := f.video(t, other.ID, inst.ID)
		long := strings.Repeat("é", 2*edustream.MaxVideoErrorLength)
		got := f.move(t, ov, edustream.VideoUpdate{Status: ptr(edustream.VideoFailed), Error: &long})
		if n := utf8.RuneCountInString(got.Error); n != edustream.MaxVideoErrorLength || !strings.HasSuffix(got.Error, "é…") {
			t.Errorf("stored a reason of %d characters ending %q, want %d ending with an ellipsis", n, got.Error[len(got.Error)-8:], edustream.MaxVideoErrorLength)
		}
	})
	t.Run("a second upload waits for the one in progress", func(t *testing.T) {
		err := f.Videos.CreateVideo(ctx, &edustream.Video{LectureID: lecture.ID, UploaderID: inst.ID, FileName: "x", ContentType: "video/mp4", SizeBytes: 1,
			UploadExpiresAt: f.Clock.Now().Add(time.Hour)})
		WantCode(t, err, edustream.ECONFLICT, "")
	})
	t.Run("racing attempts: one wins", func(t *testing.T) {
		cur, _ := f.Videos.FindVideoByID(ctx, v.ID)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = f.Videos.TransitionVideo(ctx, v.ID, cur.Status, cur.Stage, edustream.VideoUpdate{Stage: ptr(edustream.StageThumbnails)})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch edustream.ErrorCode(err) {
			case "":
				won++
			case edustream.ECONFLICT:
			default:
				t.Errorf("racing transition: %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d racing transitions won, want 1", won)
		}
		got, _ := f.Videos.FindVideoByID(ctx, v.ID)
		if got.Version != cur.Version+1 {
			t.Errorf("version %d after the race, want %d", got.Version, cur.Version+1)
		}
	})
	t.Run("finders", func(t *testing.T) {
		other := f.Lecture(t, course.ID, "other", 0)
		ov := f.video(t, other.ID, inst.ID)
		latest, err := f.Videos.FindLatestVideosByLectureIDs(ctx, []int64{lecture.ID, other.ID, 424242})
		if err != nil {
			t.Fatal(err)
		}
		if len(latest) != 2 || latest[lecture.ID].ID != v.ID || latest[other.ID].ID != ov.ID {
			t.Errorf("latest = %v", latest)
		}
		byID, err := f.Videos.FindVideosByIDs(ctx, []int64{v.ID, ov.ID, 424242})
		if err != nil || len(byID) != 2 {
			t.Errorf("FindVideosByIDs = %v, %v", byID, err)
		}
		unfinished, err := f.Videos.FindUnfinishedVideos(ctx, f.Clock.Now().Add(time.Hour))
		if err != nil || len(unfinished) != 1 || unfinished[0].ID != v.ID {
			t.Errorf("FindUnfinishedVideos = %v, %v; want only the processing video", unfinished, err)
		}
		if recent, _ := f.Videos.FindUnfinishedVideos(ctx, time.Unix(0, 0)); len(recent) != 0 {
			t.Errorf("FindUnfinishedVideos before it changed = %v", recent)
		}
		expired, err := f.Videos.FindExpiredUploads(ctx, f.Clock.Now().Add(2*time.Hour))
		if err != nil || len(expired) != 1 || expired[0].ID != ov.ID {
			t.Errorf("FindExpiredUploads = %v, %v; want the open upload", expired, err)
		}
		if notYet, _ := f.Videos.FindExpiredUploads(ctx, f.Clock.Now()); len(notYet) != 0 {
			t.Errorf("FindExpiredUploads before expiry = %v", notYet)
		}
	})
}

// testVideoLifecycle follows a lecture through two uploads: the first
// plays until the second is ready, then is replaced and deleted.
func testVideoLifecycle(t *testing.T, f *Fixture) {
	ctx := context.Background()
	inst := f.User(t, "inst", edustream.RoleInstructor)
	course := f.Course(t, inst.ID, "c", true)
	lecture := f.Lecture(t, course.ID, "l", 0)

	abandoned := f.video(t, lecture.ID, inst.ID)
	first := f.video(t, lecture.ID, inst.ID)
	t.Run("a new upload abandons an open one", func(t *testing.T) {
		got, _ := f.Videos.FindVideoByID(ctx, abandoned.ID)
		if got.ReplacedAt == nil {
			t.Errorf("the older open upload is not replaced: %+v", got)
		}
	})
	first = f.walkToComplete(t, first)
	t.Run("only a video at COMPLETE completes", func(t *testing.T) {
		_, _, err := f.Videos.CompleteVideo(ctx, abandoned.ID)
		WantCode(t, err, edustream.ECONFLICT, "")
	})
	ready, replaced, err := f.Videos.CompleteVideo(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("complete", func(t *testing.T) {
		if ready.Status != edustream.VideoReady || ready.Progress != 100 || ready.ReadyAt == nil || ready.Version != first.Version+1 || replaced != nil {
			t.Errorf("completed %+v, replaced %+v", ready, replaced)
		}
		l, _ := f.Lectures.FindLectureByID(ctx, lecture.ID)
		if l.VideoID == nil || *l.VideoID != first.ID {
			t.Errorf("lecture's video = %v, want %d", l.VideoID, first.ID)
		}
		if _, _, err := f.Videos.CompleteVideo(ctx, first.ID); edustream.ErrorCode(err) != edustream.ECONFLICT {
			t.Errorf("completing twice: %v, want ECONFLICT", err)
		}
		WantCode(t, f.Videos.DeleteVideo(ctx, first.ID), edustream.ECONFLICT, "")
	})

	second := f.walkToComplete(t, f.video(t, lecture.ID, inst.ID))
	t.Run("the first plays while the second is processed", func(t *testing.T) {
		l, _ := f.Lectures.FindLectureByID(ctx, lecture.ID)
		if *l.VideoID != first.ID {
			t.Errorf("lecture's video = %d during the re-upload, want %d", *l.VideoID, first.ID)
		}
	})
	ready, replaced, err = f.Videos.CompleteVideo(ctx, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("swap", func(t *testing.T) {
		if replaced == nil || replaced.ID != first.ID || replaced.ReplacedAt == nil {
			t.Fatalf("replaced = %+v, want the first video", replaced)
		}
		l, _ := f.Lectures.FindLectureByID(ctx, lecture.ID)
		if *l.VideoID != second.ID || ready.ID != second.ID {
			t.Errorf("lecture's video = %d, want %d", *l.VideoID, second.ID)
		}
		found, err := f.Videos.FindReplacedVideos(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, v := range found {
			ids = append(ids, v.ID)
		}
		if diff := cmp.Diff([]int64{abandoned.ID, first.ID}, ids); diff != "" {
			t.Errorf("replaced videos (-want +got):\n%s", diff)
		}
	})
	t.Run("delete replaced", func(t *testing.T) {
		for _, id := range []int64{abandoned.ID, first.ID, 424242} {
			if err := f.Videos.DeleteVideo(ctx, id); err != nil {
				t.Errorf("DeleteVideo(%d): %v", id, err)
			}
		}
		left, err := f.Videos.FindVideosByIDs(ctx, []int64{abandoned.ID, first.ID, second.ID})
		if err != nil || len(left) != 1 || left[second.ID] == nil {
			t.Errorf("videos left = %v, %v; want the playing one", left, err)
		}
	})
	t.Run("deleting the lecture replaces its videos", func(t *testing.T) {
		if err := f.Lectures.DeleteLecture(ctx, lecture.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := f.Videos.FindVideoByID(ctx, second.ID)
		if got.ReplacedAt == nil {
			t.Errorf("the deleted lecture's video is not replaced")
		}
	})
	t.Run("purging a course replaces its videos", func(t *testing.T) {
		doomed := f.Course(t, inst.ID, "doomed", true)
		l := f.Lecture(t, doomed.ID, "l", 0)
		v := f.video(t, l.ID, inst.ID)
		if err := f.Courses.HideCourse(ctx, doomed.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.Courses.PurgeCourse(ctx, doomed.ID); err != nil {
			t.Fatal(err)
		}
		got, err := f.Videos.FindVideoByID(ctx, v.ID)
		if err != nil || got.ReplacedAt == nil {
			t.Errorf("video of a purged course: %+v, %v; want it kept and replaced", got, err)
		}
	})
}
