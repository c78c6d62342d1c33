package graph_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/storage/sqldb"
)

const createUpload = `mutation($in: CreateVideoUploadInput!) {
  createVideoUpload(input: $in) { id partSize expiresAt parts { partNumber url } video { id status stage fileName } }
}`

func uploadInput(lectureID int64, size int64) map[string]any {
	return map[string]any{"in": map[string]any{
		"lectureId": strconv.FormatInt(lectureID, 10), "fileName": "talk.mp4", "contentType": "video/mp4", "sizeBytes": size,
	}}
}

// firstLecture returns the first lecture of a course.
func (b *bundle) firstLecture(t *testing.T, c *edustream.Course) *edustream.Lecture {
	t.Helper()
	ls, err := b.lectures.FindLecturesByCourseIDs(context.Background(), []int64{c.ID})
	if err != nil || len(ls[c.ID]) == 0 {
		t.Fatalf("lectures of course %d: %v, %v", c.ID, ls, err)
	}
	return ls[c.ID][0]
}

func TestCreateVideoUpload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	published := b.seedCourse(t, b.instructor, "Published", 1, true)
	draft := b.seedCourse(t, b.otherInstructor, "Draft", 1, false)
	lecture := b.firstLecture(t, published)

	t.Run("the instructor gets part URLs", func(t *testing.T) {
		const size = 40<<20 + 5 // three parts of 16 MiB
		r := b.post(t, b.instructor, createUpload, uploadInput(lecture.ID, size)).NoErrors(t)
		up := r.Data["createVideoUpload"].(map[string]any)
		parts := up["parts"].([]any)
		if up["partSize"] != float64(16<<20) || len(parts) != 3 {
			t.Fatalf("upload = %v, want 3 parts of 16 MiB", up)
		}
		for i, p := range parts {
			p := p.(map[string]any)
			if p["partNumber"] != float64(i+1) || !strings.HasPrefix(p["url"].(string), "http://edustream.test/blobs/videos/") {
				t.Errorf("part %d = %v", i+1, p)
			}
		}
		video := up["video"].(map[string]any)
		if video["status"] != "AWAITING_UPLOAD" || video["stage"] != "UPLOAD" || video["fileName"] != "talk.mp4" || video["id"] != up["id"] {
			t.Errorf("video = %v", video)
		}
	})
	t.Run("sizes beyond 32 bits", func(t *testing.T) {
		r := b.post(t, b.admin, createUpload, uploadInput(lecture.ID, 5<<30)).NoErrors(t)
		if n := len(r.Data["createVideoUpload"].(map[string]any)["parts"].([]any)); n != 320 {
			t.Errorf("a 5 GiB upload has %d parts, want 320", n)
		}
	})

	tests := []struct {
		name string
		user *edustream.User
		vars map[string]any
		code string
		msg  string
	}{
		{"anonymous", nil, uploadInput(lecture.ID, 100), "UNAUTHENTICATED", ""},
		{"student", b.student, uploadInput(lecture.ID, 100), "FORBIDDEN", ""},
		{"another instructor", b.otherInstructor, uploadInput(lecture.ID, 100), "FORBIDDEN", ""},
		{"someone else's draft", b.instructor, uploadInput(b.firstLecture(t, draft).ID, 100), "NOT_FOUND", ""},
		{"missing lecture", b.instructor, uploadInput(424242, 100), "NOT_FOUND", ""},
		{"too large", b.instructor, uploadInput(lecture.ID, edustream.DefaultMaxUploadBytes+1), "BAD_USER_INPUT", "at most 10.0 GiB"},
		{"empty", b.instructor, uploadInput(lecture.ID, 0), "BAD_USER_INPUT", "positive"},
		{"not a video type", b.instructor, map[string]any{"in": map[string]any{
			"lectureId": strconv.FormatInt(lecture.ID, 10), "fileName": "notes.txt", "contentType": "text/plain", "sizeBytes": 10,
		}}, "BAD_USER_INPUT", "contentType"},
		{"control characters in the name", b.instructor, map[string]any{"in": map[string]any{
			"lectureId": strconv.FormatInt(lecture.ID, 10), "fileName": "a\x07b.mp4", "contentType": "video/mp4", "sizeBytes": 10,
		}}, "BAD_USER_INPUT", "fileName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(t, tt.user, createUpload, tt.vars)
			if code := r.Code(t); code != tt.code || !strings.Contains(r.Errors[0].Message, tt.msg) {
				t.Errorf("got %s, want %s mentioning %q", r.Raw, tt.code, tt.msg)
			}
		})
	}
}

func TestCompleteAndRetryRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lecture := b.firstLecture(t, b.seedCourse(t, b.instructor, "Course", 1, true))
	r := b.post(t, b.instructor, createUpload, uploadInput(lecture.ID, 100)).NoErrors(t)
	uploadID := r.Data["createVideoUpload"].(map[string]any)["id"].(string)
	complete := `mutation($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id status } }`
	in := func(id string, parts ...map[string]any) map[string]any {
		return map[string]any{"in": map[string]any{"uploadId": id, "parts": parts}}
	}
	part := func(n int, etag string) map[string]any { return map[string]any{"partNumber": n, "etag": etag} }

	tests := []struct {
		name  string
		user  *edustream.User
		query string
		vars  map[string]any
		code  string
	}{
		{"another instructor completes", b.otherInstructor, complete, in(uploadID, part(1, `"x"`)), "FORBIDDEN"},
		{"a student completes", b.student, complete, in(uploadID, part(1, `"x"`)), "FORBIDDEN"},
		{"unknown upload", b.instructor, complete, in("424242", part(1, `"x"`)), "NOT_FOUND"},
		{"no parts", b.instructor, complete, in(uploadID), "BAD_USER_INPUT"},
		{"parts out of order", b.instructor, complete, in(uploadID, part(2, `"x"`)), "BAD_USER_INPUT"},
		{"part without an ETag", b.instructor, complete, in(uploadID, part(1, "")), "BAD_USER_INPUT"},
		{"retry without a failed video", b.instructor, `mutation($l: ID!) { retryVideo(lectureId: $l) { id } }`,
			map[string]any{"l": strconv.FormatInt(lecture.ID, 10)}, "CONFLICT"},
		{"retry by a student", b.student, `mutation($l: ID!) { retryVideo(lectureId: $l) { id } }`,
			map[string]any{"l": strconv.FormatInt(lecture.ID, 10)}, "FORBIDDEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := b.post(t, tt.user, tt.query, tt.vars); r.Code(t) != tt.code {
				t.Errorf("got %s, want %s", r.Raw, tt.code)
			}
		})
	}
	// None of the refusals moved the upload or started a chain.
	v, err := b.videos.FindVideoByID(context.Background(), mustID(t, uploadID))
	if err != nil || v.Status != edustream.VideoAwaitingUpload {
		t.Errorf("after the refusals the upload is %+v, %v", v, err)
	}
	if tasks := b.jobs.VideoTasks(); len(tasks) != 0 {
		t.Errorf("refusals enqueued %v", tasks)
	}
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// seedReadyVideo takes a video of the lecture through every step to READY,
// straight through sqldb: 12 s of 720p, as secret-name.mp4.
func (b *bundle) seedReadyVideo(t testing.TB, lecture *edustream.Lecture) *edustream.Video {
	t.Helper()
	ctx := context.Background()
	v := &edustream.Video{LectureID: lecture.ID, UploaderID: b.instructor.ID, FileName: "secret-name.mp4", ContentType: "video/mp4", SizeBytes: 10}
	if err := b.videos.CreateVideo(ctx, v); err != nil {
		t.Fatal(err)
	}
	uploaded, probe, processing := edustream.VideoUploaded, edustream.StageProbe, edustream.VideoProcessing
	var err error
	if v, err = b.videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &uploaded, Stage: &probe}); err != nil {
		t.Fatal(err)
	}
	if v, err = b.videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &processing}); err != nil {
		t.Fatal(err)
	}
	media := &edustream.MediaInfo{DurationSeconds: 12, Width: 1280, Height: 720, VideoCodec: "h264"}
	for v.Stage != edustream.StageComplete {
		next, _ := v.Stage.Next()
		upd := edustream.VideoUpdate{Stage: &next}
		if next == edustream.StageTranscode {
			upd.Media = media
			upd.Renditions = edustream.Ladder(media)
		}
		if v, err = b.videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, upd); err != nil {
			t.Fatal(err)
		}
	}
	if v, _, err = b.videos.CompleteVideo(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	return v
}

// Whoever sees the lecture sees its video's progress; only those who may
// watch get URLs, and only editors see the file name and failure reason.
func TestVideoFieldsFollowThePolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	course := b.seedCourse(t, b.instructor, "Course", 1, true)
	lecture := b.firstLecture(t, course)
	b.seedReadyVideo(t, lecture)
	enrolled := b.student
	b.post(t, enrolled, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(course)}).NoErrors(t)

	query := `query($l: ID!) { lecture(id: $l) { video { status durationSeconds width height renditions { name } playbackUrl thumbnailUrl storyboardUrl fileName } nextVideo { id } } }`
	vars := map[string]any{"l": strconv.FormatInt(lecture.ID, 10)}
	tests := []struct {
		name           string
		user           *edustream.User
		urls, seesName bool
	}{
		{"instructor", b.instructor, true, true},
		{"admin", b.admin, true, true},
		{"enrolled student", enrolled, true, false},
		{"another instructor", b.otherInstructor, false, false},
		{"anonymous", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(t, tt.user, query, vars).NoErrors(t)
			lec := r.Data["lecture"].(map[string]any)
			video := lec["video"].(map[string]any)
			if video["status"] != "READY" || video["durationSeconds"] != float64(12) || len(video["renditions"].([]any)) != 3 || lec["nextVideo"] != nil {
				t.Errorf("video = %v", lec)
			}
			urls := video["playbackUrl"] != nil && video["thumbnailUrl"] != nil && video["storyboardUrl"] != nil
			if urls != tt.urls || (video["fileName"] != nil) != tt.seesName {
				t.Errorf("urls %v (want %v), fileName %v (want shown %v)", urls, tt.urls, video["fileName"], tt.seesName)
			}
			if tt.urls && !strings.HasPrefix(video["playbackUrl"].(string), "http://edustream.test/play/") {
				t.Errorf("playbackUrl = %v", video["playbackUrl"])
			}
		})
	}
}

// seedProcessingVideo stores a video of the lecture that a worker is
// transcoding, straight through sqldb.
func (b *bundle) seedProcessingVideo(t *testing.T, lecture *edustream.Lecture) *edustream.Video {
	t.Helper()
	ctx := context.Background()
	v := &edustream.Video{LectureID: lecture.ID, UploaderID: b.instructor.ID, FileName: "talk.mp4", ContentType: "video/mp4", SizeBytes: 10}
	if err := b.videos.CreateVideo(ctx, v); err != nil {
		t.Fatal(err)
	}
	processing, transcode := edustream.VideoProcessing, edustream.StageTranscode
	v, err := b.videos.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &processing, Stage: &transcode})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cancelVideoProcessing stops a video's processing for its instructor or
// an admin, once: calling it again returns the cancelled video.
func TestCancelVideoProcessing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lecture := b.firstLecture(t, b.seedCourse(t, b.instructor, "Course", 1, true))
	if _, err := sqldb.NewEnrollmentService(b.db, nil).Enroll(context.Background(), b.student.ID, lecture.CourseID); err != nil {
		t.Fatal(err)
	}
	v := b.seedProcessingVideo(t, lecture)
	const cancel = `mutation($v: ID!) { cancelVideoProcessing(videoId: $v) { id status stage error } }`
	vars := map[string]any{"v": strconv.FormatInt(v.ID, 10)}

	for _, tt := range []struct {
		name string
		user *edustream.User
		vars map[string]any
		code string
	}{
		{"anonymous", nil, vars, "UNAUTHENTICATED"},
		{"an enrolled student", b.student, vars, "FORBIDDEN"},
		{"another instructor", b.otherInstructor, vars, "FORBIDDEN"},
		{"an unknown video", b.instructor, map[string]any{"v": "424242"}, "NOT_FOUND"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := b.post(t, tt.user, cancel, tt.vars); r.Code(t) != tt.code {
				t.Errorf("got %s, want %s", r.Raw, tt.code)
			}
		})
	}
	if got, _ := b.videos.FindVideoByID(context.Background(), v.ID); got.Status != edustream.VideoProcessing || len(b.jobs.Cancels()) != 0 {
		t.Fatalf("after the refusals the video is %s and cancels %v; want PROCESSING, none", got.Status, b.jobs.Cancels())
	}

	for i := range 2 {
		r := b.post(t, b.instructor, cancel, vars).NoErrors(t)
		got := r.Data["cancelVideoProcessing"].(map[string]any)
		if got["status"] != "FAILED" || got["stage"] != "TRANSCODE" || !strings.Contains(got["error"].(string), "cancelled the processing") {
			t.Errorf("call %d: %v, want FAILED at TRANSCODE saying it was cancelled", i+1, got)
		}
	}
	if got := b.jobs.Cancels(); !slices.Equal(got, []int64{v.ID}) {
		t.Errorf("work stopped for %v, want video %d once", got, v.ID)
	}

	// An admin may cancel any course's video.
	other := b.seedProcessingVideo(t, b.firstLecture(t, b.seedCourse(t, b.instructor, "Other", 1, false)))
	r := b.post(t, b.admin, cancel, map[string]any{"v": strconv.FormatInt(other.ID, 10)}).NoErrors(t)
	if got := r.Data["cancelVideoProcessing"].(map[string]any); got["status"] != "FAILED" {
		t.Errorf("an admin's cancel: %v, want FAILED", got)
	}
}

// Deleting a lecture or a course stops its video's processing: the
// lecture's video is stopped and its removal queued; the course's videos
// end FAILED saying why (the purge replaces them next).
func TestDeletingStopsProcessing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	course := b.seedCourse(t, b.instructor, "Course", 2, true)
	lectures, err := b.lectures.FindLecturesByCourseIDs(context.Background(), []int64{course.ID})
	if err != nil {
		t.Fatal(err)
	}
	first, second := b.seedProcessingVideo(t, lectures[course.ID][0]), b.seedProcessingVideo(t, lectures[course.ID][1])

	b.post(t, b.instructor, `mutation($id: ID!) { deleteLecture(id: $id) }`, map[string]any{"id": strconv.FormatInt(first.LectureID, 10)}).NoErrors(t)
	if got := b.jobs.Cancels(); !slices.Equal(got, []int64{first.ID}) {
		t.Errorf("after deleteLecture work stopped for %v, want video %d", got, first.ID)
	}
	if got := b.jobs.Removals(); !slices.Equal(got, []int64{first.ID}) {
		t.Errorf("after deleteLecture removals %v, want video %d", got, first.ID)
	}

	b.post(t, b.instructor, `mutation($id: ID!) { deleteCourse(id: $id) }`, map[string]any{"id": strconv.FormatInt(course.ID, 10)}).NoErrors(t)
	if got := b.jobs.Cancels(); !slices.Equal(got, []int64{first.ID, second.ID}) {
		t.Errorf("after deleteCourse work stopped for %v, want videos %d and %d", got, first.ID, second.ID)
	}
	got, err := b.videos.FindVideoByID(context.Background(), second.ID)
	if err != nil || got.Status != edustream.VideoFailed || got.Error != "the course was deleted" {
		t.Errorf("the course's video: %+v, %v; want FAILED because the course was deleted", got, err)
	}
}
