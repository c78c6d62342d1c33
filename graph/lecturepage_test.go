package graph_test

import (
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
)

// countingPlayback counts the videos signed.
type countingPlayback struct {
	edustream.PlaybackURLs
	signed *atomic.Int64
}

func (p countingPlayback) Sign(v *edustream.Video) edustream.SignedVideo {
	p.signed.Add(1)
	return p.PlaybackURLs.Sign(v)
}

// The lecture page decides, reads and signs once per request (issue 16):
// the root lecture reads its video and the caller's enrolment at once, the
// three URL fields share one access decision and one signature, and who
// gets the URLs is exactly what TestVideoFieldsFollowThePolicy says.
func TestLecturePageOnce(t *testing.T) {
	t.Parallel()
	var signed atomic.Int64
	b := setup(t, func(_ *graph.Config, r *graph.Resolver) {
		r.Playback = countingPlayback{r.Playback, &signed}
	})
	course := b.seedCourse(t, b.instructor, "Course", 2, true)
	lectures, err := b.lectures.FindLecturesByCourseIDs(t.Context(), []int64{course.ID})
	if err != nil {
		t.Fatal(err)
	}
	ready, processing := lectures[course.ID][0], lectures[course.ID][1]
	b.seedReadyVideo(t, ready)
	b.seedProcessingVideo(t, processing)
	enrolled, notEnrolled := b.student, b.upsertStudent(t, "kim")
	b.post(t, enrolled, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(course)}).NoErrors(t)

	// Through a fragment, as clients write pages.
	page := `query($l: ID!) { lecture(id: $l) { ...page } }
		fragment page on Lecture { title course { title } video { status playbackUrl thumbnailUrl storyboardUrl renditions { name } } }`
	tests := []struct {
		name    string
		user    *edustream.User
		lecture *edustream.Lecture
		urls    bool
		// queries: the lecture, its course, its video, and a signed-in
		// caller's enrolment (Lecture.video queues it for the URL fields).
		queries int64
		signs   int64
	}{
		{"enrolled student", enrolled, ready, true, 4, 1},
		{"student not enrolled", notEnrolled, ready, false, 4, 0},
		{"instructor", b.instructor, ready, true, 4, 1},
		{"admin", b.admin, ready, true, 4, 1},
		{"anonymous", nil, ready, false, 3, 0},
		{"enrolled student, video processing", enrolled, processing, false, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.queries.Store(0)
			signed.Store(0)
			r := b.post(t, tt.user, page, map[string]any{"l": strconv.FormatInt(tt.lecture.ID, 10)}).NoErrors(t)
			video := r.Data["lecture"].(map[string]any)["video"].(map[string]any)
			if got := b.queries.Load(); got != tt.queries {
				t.Errorf("%d SQL round trips, want %d", got, tt.queries)
			}
			if got := signed.Load(); got != tt.signs {
				t.Errorf("signed %d times, want %d", got, tt.signs)
			}
			for _, field := range []string{"playbackUrl", "thumbnailUrl", "storyboardUrl"} {
				if (video[field] != nil) != tt.urls {
					t.Errorf("%s = %v, want one: %v", field, video[field], tt.urls)
				}
			}
			if !tt.urls {
				return
			}
			// One expiry and one signature for the playlist and the
			// storyboard.
			playlist, err1 := url.Parse(video["playbackUrl"].(string))
			storyboard, err2 := url.Parse(video["storyboardUrl"].(string))
			if err1 != nil || err2 != nil || playlist.RawQuery == "" || playlist.RawQuery != storyboard.RawQuery {
				t.Errorf("playbackUrl %v and storyboardUrl %v differ in expiry or signature", playlist, storyboard)
			}
		})
	}
}
