package main

import (
	"github.com/edustream/edustream"
	"github.com/edustream/edustream/captionfiles"
	"github.com/edustream/edustream/jobs"
	"github.com/edustream/edustream/storage/sqldb"
	"github.com/edustream/edustream/webex"
)

// services are the domain's services of a process, each built once here
// and shared by the API, the workers and the webhooks of the process.
type services struct {
	users       edustream.UserService
	courses     *sqldb.CourseService
	lectures    *sqldb.LectureService
	enrollments *sqldb.EnrollmentService
	videos      *sqldb.VideoService
	sessions    *sqldb.LiveSessionService
	audit       *sqldb.AuditLog
	search      *sqldb.SearchService
	// progress records and reads learning progress; life carries it over
	// when a lecture's video is replaced.
	progress *edustream.Progress
	// life makes every move of a video; uploads, transcodes (an external
	// transcoder's reports) and live (recordings) go through it.
	life       *edustream.VideoLifecycle
	uploads    *edustream.Uploads
	transcodes *edustream.TranscodeJobs
	live       *edustream.LiveClasses
	// captions adds and removes the videos' caption tracks, uploaded and
	// automatic.
	captions *edustream.Captions
}

// newServices builds the services on db, with the process's queue, events
// and blob store. A nil Webex client turns live classes off: sessions
// stored earlier still read, the mutations refuse.
func newServices(cfg config, db *sqldb.DB, queue *jobs.Queue, events edustream.EventService, blobs edustream.BlobStore, client *webex.Client) *services {
	s := &services{
		users:       sqldb.NewUserService(db),
		courses:     sqldb.NewCourseService(db, nil),
		lectures:    sqldb.NewLectureService(db, nil),
		enrollments: sqldb.NewEnrollmentService(db, nil),
		videos:      sqldb.NewVideoService(db, nil),
		sessions:    sqldb.NewLiveSessionService(db, nil),
		audit:       sqldb.NewAuditLog(db, nil),
		search:      sqldb.NewSearchService(db),
	}
	progress := sqldb.NewProgressService(db)
	s.progress = &edustream.Progress{Store: progress, Events: events, Threshold: cfg.CompletionThreshold}
	s.life = &edustream.VideoLifecycle{Videos: s.videos, Jobs: queue, Events: events, Blobs: blobs, ViewerProgress: progress}
	s.uploads = &edustream.Uploads{Life: s.life, Blobs: blobs, Limits: videoLimits(cfg), TTL: cfg.UploadTTL}
	s.transcodes = &edustream.TranscodeJobs{Life: s.life}
	s.live = &edustream.LiveClasses{
		Sessions: s.sessions,
		Courses:  s.courses,
		Jobs:     queue,
		Events:   events,
		// The same flow as uploads, so a recording becomes a video like
		// any other.
		Uploads: s.uploads,
		TempDir: cfg.WorkDir,
	}
	s.captions = &edustream.Captions{Store: sqldb.NewCaptionService(db, nil), Videos: s.videos, Lectures: s.lectures,
		Courses: s.courses, Blobs: blobs, Format: &captionfiles.Format{Blobs: blobs}, Events: events}
	if client != nil {
		s.live.Meetings = webex.NewMeetingService(client)
	}
	return s
}

func videoLimits(cfg config) edustream.VideoLimits {
	return edustream.VideoLimits{MaxUploadBytes: cfg.MaxUploadBytes, MaxDuration: cfg.MaxVideoDuration}.WithDefaults()
}
