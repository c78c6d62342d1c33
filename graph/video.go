package graph

import (
	"context"
	"log/slog"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph/model"
)

// The helpers of the video resolvers. Access follows the lecture: whoever
// sees the lecture sees that it has a video and where it is in the chain;
// playing it (and following its encoding) needs CanWatchLecture; the
// uploader's details (file name, failure reason) are for those who may edit.

// lectureAccess is what the caller may do with a lecture's videos.
type lectureAccess struct {
	watch bool
	edit  bool
}

// accessToLecture loads the lecture (NOT_FOUND if the caller may not see it)
// and decides what the caller may do with its videos, once per lecture and
// query: a video's URL fields, and the lecture's videos, all ask.
func (r *Resolver) accessToLecture(ctx context.Context, lectureID int64) (*lectureAccess, error) {
	if !memoizes(ctx) {
		return r.decideAccess(ctx, lectureID)
	}
	return loadersFrom(ctx).videoMemo.access(lectureID, func() (*lectureAccess, error) {
		return r.decideAccess(ctx, lectureID)
	})
}

func (r *Resolver) decideAccess(ctx context.Context, lectureID int64) (*lectureAccess, error) {
	l, err := r.visibleLecture(ctx, lectureID)
	if err != nil {
		return nil, err
	}
	c, err := r.visibleCourse(ctx, l.CourseID)
	if err != nil {
		return nil, err
	}
	u := edustream.UserFromContext(ctx)
	a := &lectureAccess{edit: edustream.CanEditCourse(u, c)}
	a.watch = a.edit
	if !a.watch && u != nil {
		e, err := loadersFrom(ctx).enrollmentLoader().Load(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		a.watch = edustream.CanWatchLecture(u, c, e != nil)
	}
	return a, nil
}

// memoizes reports whether the operation may keep a decision for its
// length: a query or one event of a subscription (each has loaders of its
// own), not a mutation, whose root fields run one after another and may
// change the rows a decision read (a later field re-reads them, see
// loaders.course).
func memoizes(ctx context.Context) bool {
	return !graphql.HasOperationContext(ctx) || graphql.GetOperationContext(ctx).Operation.Operation != ast.Mutation
}

// videoMemo is what the video fields of one operation decide once: each
// lecture's access and each video's signed URLs. Its zero value is ready.
type videoMemo struct {
	mu         sync.Mutex
	accessTo   map[int64]*onceAccess
	signatures map[int64]edustream.SignedVideo
}

// onceAccess is one lecture's decision: the first field to ask makes it,
// the others (on their own goroutines) wait for it.
type onceAccess struct {
	once sync.Once
	a    *lectureAccess
	err  error
}

func (m *videoMemo) access(lectureID int64, decide func() (*lectureAccess, error)) (*lectureAccess, error) {
	m.mu.Lock()
	e := m.accessTo[lectureID]
	if e == nil {
		if m.accessTo == nil {
			m.accessTo = map[int64]*onceAccess{}
		}
		e = &onceAccess{}
		m.accessTo[lectureID] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.a, e.err = decide() })
	return e.a, e.err
}

// signed returns v's URLs, signed on first use.
func (m *videoMemo) signed(p edustream.PlaybackURLs, v *edustream.Video) edustream.SignedVideo {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.signatures[v.ID]
	if s == nil {
		if m.signatures == nil {
			m.signatures = map[int64]edustream.SignedVideo{}
		}
		s = p.Sign(v)
		m.signatures[v.ID] = s
	}
	return s
}

// playbackURL returns one of a READY video's URLs for a caller who may watch
// it, and nil for everyone else: no error, since the rest of the video is
// theirs to see.
func (r *Resolver) playbackURL(ctx context.Context, v *edustream.Video, url func(edustream.SignedVideo) (string, error)) (*string, error) {
	if v.Status != edustream.VideoReady || r.Playback == nil {
		return nil, nil
	}
	a, err := r.accessToLecture(ctx, v.LectureID)
	if err != nil || !a.watch {
		return nil, err
	}
	s, err := url(loadersFrom(ctx).videoMemo.signed(r.Playback, v))
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// prefetchLecture reads, as soon as the root lecture is known, the rows
// its selected fields would each wait a loader's batch window for (and
// read on a goroutine of the loader's, growing a fresh stack): its video,
// its newest video, the caller's enrolment in its course. A single
// lecture has no siblings to batch with, and the windows were most of the
// lecture page's latency (issue 16). It reads what the fields would queue
// (lecture_batch.go), no more.
func (r *Resolver) prefetchLecture(ctx context.Context, l *edustream.Lecture) error {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || r.VideoService == nil {
		return nil
	}
	selected := childFields(fc.Field.Selections)
	loaders := loadersFrom(ctx)
	if _, ok := selected["video"]; ok && l.VideoID != nil {
		m, err := r.VideoService.FindVideosByIDs(ctx, []int64{*l.VideoID})
		if err != nil {
			return err
		}
		if v := m[*l.VideoID]; v != nil {
			loaders.videoLoader().Prime(v.ID, v)
		}
	}
	// The newest video is Lecture.video of a lecture that plays none, and
	// Lecture.nextVideo of one that does.
	_, latest := selected["nextVideo"]
	if l.VideoID == nil {
		_, latest = selected["video"]
	}
	if latest {
		m, err := r.VideoService.FindLatestVideosByLectureIDs(ctx, []int64{l.ID})
		if err != nil {
			return err
		}
		loaders.latestVideoLoader().Prime(l.ID, m[l.ID])
	}
	// The enrolment answers Course.enrolled, and the videos' fields that
	// decide access queue it (queueVideoAccess).
	_, enrolled := childFields(selected["course"])["enrolled"]
	viewer := loaders.viewer
	if viewer == nil || !enrolled && !asksAccess(selected["video"]) && !asksAccess(selected["nextVideo"]) {
		return nil
	}
	m, err := r.EnrollmentService.FindEnrollments(ctx, viewer.ID, []int64{l.CourseID})
	if err != nil {
		return err
	}
	loaders.enrollmentLoader().Prime(l.CourseID, m[l.CourseID])
	return nil
}

// asksAccess reports whether a video's selection has a field that decides
// access (accessToLecture).
func asksAccess(set ast.SelectionSet) bool {
	for name := range childFields(set) {
		switch name {
		case "playbackUrl", "thumbnailUrl", "storyboardUrl", "error", "fileName":
			return true
		}
	}
	return false
}

// childFields are the fields selected directly in set, through fragments,
// by name, with their selections (those of one name merged).
func childFields(set ast.SelectionSet) map[string]ast.SelectionSet {
	out := map[string]ast.SelectionSet{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				out[sel.Name] = append(out[sel.Name], sel.SelectionSet...)
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				if sel.Definition != nil {
					walk(sel.Definition.SelectionSet)
				}
			}
		}
	}
	walk(set)
	return out
}

// editorsOnly returns s for a caller who may edit the video's lecture.
func (r *Resolver) editorsOnly(ctx context.Context, v *edustream.Video, s string) (*string, error) {
	a, err := r.accessToLecture(ctx, v.LectureID)
	if err != nil || !a.edit || s == "" {
		return nil, err
	}
	return &s, nil
}

// currentVideo is Lecture.video: the one that plays, or else the newest.
func (r *Resolver) currentVideo(ctx context.Context, l *edustream.Lecture) (*edustream.Video, error) {
	if l.VideoID != nil {
		v, err := loadersFrom(ctx).videoLoader().Load(ctx, *l.VideoID)
		return v, notFoundAs(err, nil)
	}
	return loadersFrom(ctx).latestVideoLoader().Load(ctx, l.ID)
}

// nextVideo is Lecture.nextVideo: a newer upload than the one that plays.
func (r *Resolver) nextVideo(ctx context.Context, l *edustream.Lecture) (*edustream.Video, error) {
	if l.VideoID == nil {
		return nil, nil
	}
	v, err := loadersFrom(ctx).latestVideoLoader().Load(ctx, l.ID)
	if err != nil || v == nil || v.ID == *l.VideoID {
		return nil, err
	}
	return v, nil
}

// createVideoUpload opens an upload of a new video for the lecture.
func (r *Resolver) createVideoUpload(ctx context.Context, input model.CreateVideoUploadInput) (*model.VideoUpload, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthenticated()
	}
	l, err := r.editableLecture(ctx, input.LectureID)
	if err != nil {
		return nil, err
	}
	up, err := r.Uploads.Create(ctx, u.ID, l.ID, input.FileName, input.ContentType, input.SizeBytes)
	if err != nil {
		return nil, err
	}
	out := &model.VideoUpload{ID: up.Video.ID, PartSize: up.PartSize, ExpiresAt: up.ExpiresAt, Video: up.Video}
	for i, url := range up.PartURLs {
		out.Parts = append(out.Parts, &model.UploadPart{PartNumber: i + 1, URL: url})
	}
	return out, nil
}

// completeVideoUpload finishes an upload and starts the chain; calling it
// again, or concurrently, is harmless (see edustream.Uploads).
func (r *Resolver) completeVideoUpload(ctx context.Context, input model.CompleteVideoUploadInput) (*edustream.Video, error) {
	if edustream.UserFromContext(ctx) == nil {
		return nil, errUnauthenticated()
	}
	notFound := edustream.Errorf(edustream.ENOTFOUND, "upload %d not found", input.UploadID)
	v, err := r.VideoService.FindVideoByID(ctx, input.UploadID)
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	if _, err := r.editableLecture(ctx, v.LectureID); edustream.ErrorCode(err) == edustream.ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	parts := make([]edustream.UploadPart, len(input.Parts))
	for i, p := range input.Parts {
		parts[i] = edustream.UploadPart{PartNumber: p.PartNumber, ETag: p.Etag}
	}
	return r.Uploads.Complete(ctx, v, parts)
}

// retryVideo runs the lecture's failed video again from the step it failed
// at.
func (r *Resolver) retryVideo(ctx context.Context, lectureID int64) (*edustream.Video, error) {
	if _, err := r.editableLecture(ctx, lectureID); err != nil {
		return nil, err
	}
	return r.Uploads.Retry(ctx, lectureID)
}

// cancelVideoProcessing stops a video's processing at the request of its
// course's instructor or an admin. A replaced video (its lecture deleted,
// or a newer upload READY) is not found: nothing of it is left to stop.
func (r *Resolver) cancelVideoProcessing(ctx context.Context, videoID int64) (*edustream.Video, error) {
	u := edustream.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthenticated()
	}
	v, err := r.VideoService.FindVideoByID(ctx, videoID)
	if err != nil {
		return nil, err
	}
	if v.ReplacedAt != nil {
		return nil, edustream.Errorf(edustream.ENOTFOUND, "video %d not found", videoID)
	}
	if _, err := r.editableLecture(ctx, v.LectureID); err != nil {
		return nil, err
	}
	return r.Uploads.Life.StopProcessing(ctx, v, edustream.CancelledBy(u))
}

// lectureIDsOf returns the ids of a course's lectures, whose videos are
// stopped when the course is deleted. A failure is logged: the deletion
// goes on, and the steps not stopped end when they next move their videos.
func (r *Resolver) lectureIDsOf(ctx context.Context, courseID int64) []int64 {
	lectures, err := r.LectureService.FindLecturesByCourseIDs(ctx, []int64{courseID})
	if err != nil {
		edustream.Logger(ctx).Warn("find the lectures of a course being deleted; their steps stop when they next move their videos",
			slog.Int64("course_id", courseID), slog.String("error", err.Error()))
		return nil
	}
	ids := make([]int64, len(lectures[courseID]))
	for i, l := range lectures[courseID] {
		ids[i] = l.ID
	}
	return ids
}

// lecturesRemoved follows the deletion of lectures (or of their course):
// it stops the processing of their videos (VideoLifecycle.StopLectures),
// then tells their encodingProgress subscribers, so that the last event
// they see is the removal. The deletion is done; a failure here is logged,
// and a step not stopped ends when it next moves its video.
func (r *Resolver) lecturesRemoved(ctx context.Context, lectureIDs []int64, reason string) {
	if r.Uploads != nil && len(lectureIDs) > 0 {
		if err := r.Uploads.Life.StopLectures(ctx, lectureIDs, reason); err != nil {
			edustream.Logger(ctx).Warn("stop the videos of deleted lectures; their steps stop when they next move their videos",
				slog.Any("lecture_ids", lectureIDs), slog.String("error", err.Error()))
		}
	}
	r.announceRemoved(ctx, lectureIDs...)
}

func renditionsOf(v *edustream.Video) []*edustream.Rendition {
	out := make([]*edustream.Rendition, len(v.Renditions))
	for i := range v.Renditions {
		out[i] = &v.Renditions[i]
	}
	return out
}
