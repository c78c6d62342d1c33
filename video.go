package edustream

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// VideoStatus is where a video is in its life, as clients see it.
type VideoStatus string

// Video statuses, as in the GraphQL schema.
const (
	// VideoAwaitingUpload: the upload was created; its bytes have not all
	// arrived.
	VideoAwaitingUpload VideoStatus = "AWAITING_UPLOAD"
	// VideoUploaded: the bytes are stored and the chain is queued.
	VideoUploaded VideoStatus = "UPLOADED"
	// VideoProcessing: a step of the chain has started.
	VideoProcessing VideoStatus = "PROCESSING"
	// VideoReady: the HLS stream is published and playable.
	VideoReady VideoStatus = "READY"
	// VideoFailed: a step failed for good; Error says why, and retryVideo
	// runs the chain again from that step.
	VideoFailed VideoStatus = "FAILED"
)

// Terminal reports whether no step will move the video any more without a
// person (a retry or a new upload).
func (s VideoStatus) Terminal() bool {
	return s == VideoReady || s == VideoFailed
}

// VideoStage is the step of the transcoding chain a video is at: the step
// that runs next, or is running, or (for a FAILED video) failed.
type VideoStage string

// The chain's steps in order. Each is one asynq task; see package jobs.
const (
	StageUpload     VideoStage = "UPLOAD"
	StageProbe      VideoStage = "PROBE"
	StageTranscode  VideoStage = "TRANSCODE"
	StagePublish    VideoStage = "PUBLISH"
	StageThumbnails VideoStage = "THUMBNAILS"
	// StageCaptions makes the automatic captions, if an engine is
	// configured. It never fails the video: a failure is recorded on the
	// track (RecordAutomaticCaptionFailure) and the video goes on.
	StageCaptions VideoStage = "CAPTIONS"
	StageMetadata VideoStage = "METADATA"
	StageComplete VideoStage = "COMPLETE"
)

// Stages lists the chain's steps in order.
var Stages = []VideoStage{StageUpload, StageProbe, StageTranscode, StagePublish, StageThumbnails, StageCaptions, StageMetadata, StageComplete}

// stageSpan is the share of the whole chain's progress each stage covers, in
// percent, as [start, end). Transcoding dominates the wall time of every
// real upload, so it gets most of the bar; the local speech engine is the
// next longest (half the transcode's time on the benchmark's clip, see
// docs/benchmarks-captions.md), a remote one mostly waits.
var stageSpan = map[VideoStage][2]float64{
	StageUpload:     {0, 0},
	StageProbe:      {0, 2},
	StageTranscode:  {2, 75},
	StagePublish:    {75, 78},
	StageThumbnails: {78, 81},
	StageCaptions:   {81, 98},
	StageMetadata:   {98, 99},
	StageComplete:   {99, 100},
}

// Next returns the stage after s, and false after the last.
func (s VideoStage) Next() (VideoStage, bool) {
	for i, st := range Stages {
		if st == s && i+1 < len(Stages) {
			return Stages[i+1], true
		}
	}
	return "", false
}

// Valid reports whether s is one of the chain's stages.
func (s VideoStage) Valid() bool {
	_, ok := stageSpan[s]
	return ok
}

// OverallProgress turns the progress within stage s (0..1) into the whole
// chain's percent (0..100), which is what progress bars show.
func (s VideoStage) OverallProgress(withinStage float64) float64 {
	span, ok := stageSpan[s]
	if !ok {
		return 0
	}
	withinStage = min(max(withinStage, 0), 1)
	return span[0] + (span[1]-span[0])*withinStage
}

// MediaInfo is what probing a source file found.
type MediaInfo struct {
	// FormatName is the demuxer that recognised the file (e.g.
	// "mov,mp4,m4a,3gp,3g2,mj2").
	FormatName      string  `json:"formatName"`
	DurationSeconds float64 `json:"durationSeconds"`
	SizeBytes       int64   `json:"sizeBytes"`
	BitRate         int64   `json:"bitRate,omitempty"`
	// Width and Height are as displayed, that is after Rotation.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Rotation is the display rotation in degrees (0, 90, 180, 270).
	Rotation   int     `json:"rotation"`
	FrameRate  float64 `json:"frameRate"`
	VideoCodec string  `json:"videoCodec"`
	// AudioCodec is empty when the file has no audio stream.
	AudioCodec string `json:"audioCodec,omitempty"`
}

// HasAudio reports whether the source has an audio stream.
func (m *MediaInfo) HasAudio() bool { return m.AudioCodec != "" }

// Video is one uploaded source file of a lecture and everything the chain
// made from it. A lecture keeps its current (playing) video while a new one
// is processed; see Lecture.VideoID.
type Video struct {
	ID         int64
	LectureID  int64
	UploaderID int64

	Status VideoStatus
	Stage  VideoStage
	// Progress is the whole chain's percent, 0..100.
	Progress float64
	// Error says why a FAILED video failed, in words a person can act on.
	Error string
	// Version increases with every change of status or stage, so events can
	// be ordered without trusting clocks.
	Version int64

	FileName    string
	ContentType string
	SizeBytes   int64
	// UploadID is the blob store's multipart upload id while the upload is
	// open.
	UploadID        string
	UploadExpiresAt time.Time

	Media      *MediaInfo
	Renditions []Rendition
	// TranscoderJobID is an external transcoder's job (MediaConvert), stored
	// before anything else happens so a retried step never submits twice.
	TranscoderJobID string

	CreatedAt time.Time
	UpdatedAt time.Time
	ReadyAt   *time.Time
	// ReplacedAt is set when a newer video of the lecture became READY; the
	// outputs of a replaced video are deleted in the background.
	ReplacedAt *time.Time
}

// The blob keys of a video are derived from its id, so every step writes to
// the same place however often it runs.

// SourceKey is where the uploaded file is stored.
func (v *Video) SourceKey() string { return VideoPrefix(v.ID) + "source" }

// WorkPrefix is where the transcode step leaves its outputs for publish.
func (v *Video) WorkPrefix() string { return VideoPrefix(v.ID) + "work/" }

// HLSPrefix is where the published stream lives: master.m3u8 and one
// directory per rendition.
func (v *Video) HLSPrefix() string { return VideoPrefix(v.ID) + "hls/" }

// MasterPlaylistKey is the published master playlist.
func (v *Video) MasterPlaylistKey() string { return v.HLSPrefix() + MasterPlaylistName }

// PosterKey is the published poster image.
func (v *Video) PosterKey() string { return VideoPrefix(v.ID) + "poster.jpg" }

// StoryboardSpriteKey is the published storyboard sprite.
func (v *Video) StoryboardSpriteKey() string { return VideoPrefix(v.ID) + "storyboard.jpg" }

// StoryboardVTTKey is the published WebVTT thumbnails track.
func (v *Video) StoryboardVTTKey() string { return VideoPrefix(v.ID) + "storyboard.vtt" }

// MetadataKey is the JSON sidecar next to the outputs.
func (v *Video) MetadataKey() string { return VideoPrefix(v.ID) + "metadata.json" }

// MasterPlaylistName is the file name of the HLS master playlist.
const MasterPlaylistName = "master.m3u8"

// VideoPrefix is the blob prefix of everything that belongs to a video.
func VideoPrefix(videoID int64) string {
	return "videos/" + strconv.FormatInt(videoID, 10) + "/"
}

// UploadPrefix is the prefix of every key a video upload writes, for the S3
// event path: an object under it that no upload row knows is ignored.
const UploadPrefix = "videos/"

// VideoIDFromSourceKey returns the video id of a source key, and false for
// any other key.
func VideoIDFromSourceKey(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, UploadPrefix)
	if !ok {
		return 0, false
	}
	idText, name, ok := strings.Cut(rest, "/")
	if !ok || name != "source" {
		return 0, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != idText {
		return 0, false
	}
	return id, true
}

// Limits on uploads and sources. They are part of the public contract: the
// upload form validates against the same numbers. Deployments may lower or
// raise them (VideoLimits).
const (
	DefaultMaxUploadBytes   = 10 << 30 // 10 GiB
	DefaultMaxVideoDuration = 4 * time.Hour
	DefaultMaxVideoSide     = 4096
	MaxFileNameLength       = 255
)

// VideoLimits bounds what an upload may be. A zero field is its default
// (see WithDefaults), so setting one limit leaves the others in force.
type VideoLimits struct {
	MaxUploadBytes int64
	MaxDuration    time.Duration
	// MaxWidth and MaxHeight bound the displayed picture.
	MaxWidth, MaxHeight int
}

// DefaultVideoLimits returns the limits used when none are configured.
func DefaultVideoLimits() VideoLimits {
	return VideoLimits{
		MaxUploadBytes: DefaultMaxUploadBytes,
		MaxDuration:    DefaultMaxVideoDuration,
		MaxWidth:       DefaultMaxVideoSide,
		MaxHeight:      DefaultMaxVideoSide,
	}
}

// WithDefaults returns lim with each zero field set to its default.
func (lim VideoLimits) WithDefaults() VideoLimits {
	def := DefaultVideoLimits()
	if lim.MaxUploadBytes == 0 {
		lim.MaxUploadBytes = def.MaxUploadBytes
	}
	if lim.MaxDuration == 0 {
		lim.MaxDuration = def.MaxDuration
	}
	if lim.MaxWidth == 0 {
		lim.MaxWidth = def.MaxWidth
	}
	if lim.MaxHeight == 0 {
		lim.MaxHeight = def.MaxHeight
	}
	return lim
}

// UploadContentTypes are the media types createVideoUpload accepts. The
// type only says what the client claims; the probe step decides what the
// file is.
var UploadContentTypes = map[string]bool{
	"video/mp4":        true,
	"video/quicktime":  true,
	"video/webm":       true,
	"video/x-matroska": true,
	"video/x-msvideo":  true,
	"video/mpeg":       true,
	"video/x-m4v":      true,
}

// ValidateUpload checks what createVideoUpload was given. EINVALID.
func (lim VideoLimits) ValidateUpload(fileName, contentType string, sizeBytes int64) error {
	base := path.Base(strings.ReplaceAll(fileName, `\`, "/"))
	switch {
	case strings.TrimSpace(fileName) == "" || base == "." || base == "/":
		return Errorf(EINVALID, "fileName must not be empty")
	case len(fileName) > MaxFileNameLength:
		return Errorf(EINVALID, "fileName must be at most %d bytes", MaxFileNameLength)
	case !validText(fileName, false):
		return Errorf(EINVALID, "fileName must be valid UTF-8 without control characters")
	case !UploadContentTypes[strings.ToLower(contentType)]:
		return Errorf(EINVALID, "contentType %q is not accepted; use one of video/mp4, video/quicktime, video/webm, video/x-matroska, video/x-msvideo, video/mpeg, video/x-m4v", truncate(contentType, 64))
	case sizeBytes <= 0:
		return Errorf(EINVALID, "sizeBytes must be positive")
	case sizeBytes > lim.MaxUploadBytes:
		return Errorf(EINVALID, "the file is %s; uploads may be at most %s", FormatBytes(sizeBytes), FormatBytes(lim.MaxUploadBytes))
	}
	return nil
}

// CheckMedia refuses a probed source that is beyond the limits, with a
// reason a person can act on. EINVALID.
func (lim VideoLimits) CheckMedia(m *MediaInfo) error {
	switch {
	case m.DurationSeconds <= 0:
		return Errorf(EINVALID, "the video has no duration")
	case lim.MaxDuration > 0 && m.DurationSeconds > lim.MaxDuration.Seconds():
		return Errorf(EINVALID, "the video is %s long, longer than the %s limit", FormatDuration(m.DurationSeconds), FormatDuration(lim.MaxDuration.Seconds()))
	case m.Width <= 0 || m.Height <= 0:
		return Errorf(EINVALID, "the video has no picture size")
	case lim.MaxWidth > 0 && lim.MaxHeight > 0 && (m.Width > lim.MaxWidth || m.Height > lim.MaxHeight):
		return Errorf(EINVALID, "the picture is %d×%d, larger than the %d×%d limit", m.Width, m.Height, lim.MaxWidth, lim.MaxHeight)
	case lim.MaxUploadBytes > 0 && m.SizeBytes > lim.MaxUploadBytes:
		return Errorf(EINVALID, "the file is %s; uploads may be at most %s", FormatBytes(m.SizeBytes), FormatBytes(lim.MaxUploadBytes))
	}
	return nil
}

// MaxVideoErrorLength bounds Video.Error, in characters: reasons come from
// ffmpeg and from AWS as well as from EduStream, and are cut to fit.
const MaxVideoErrorLength = 1000

// VideoUpdate is a change the chain makes to a video, applied only if the
// video is still where the step found it (see VideoService.TransitionVideo).
// Nil fields are unchanged.
type VideoUpdate struct {
	Status          *VideoStatus
	Stage           *VideoStage
	Progress        *float64
	Error           *string
	UploadID        *string
	Media           *MediaInfo
	Renditions      []Rendition
	TranscoderJobID *string
}

// VideoService stores videos. Its writes are VideoLifecycle's alone: everything
// else moves a video through the lifecycle, and only reads here.
type VideoService interface {
	// CreateVideo inserts v (AWAITING_UPLOAD at StageUpload) and sets its
	// ID, version and timestamps. ENOTFOUND for a missing lecture.
	CreateVideo(ctx context.Context, v *Video) error
	// FindVideoByID returns a video. ENOTFOUND.
	FindVideoByID(ctx context.Context, id int64) (*Video, error)
	// FindVideosByIDs returns the videos that exist among ids, keyed by id.
	FindVideosByIDs(ctx context.Context, ids []int64) (map[int64]*Video, error)
	// FindLatestVideosByLectureIDs returns each lecture's newest video,
	// keyed by lecture id; lectures without one are absent.
	FindLatestVideosByLectureIDs(ctx context.Context, lectureIDs []int64) (map[int64]*Video, error)
	// TransitionVideo applies upd if the video is still at (status, stage)
	// and bumps its version when the status or stage changes. It returns
	// the video as it is afterwards. ECONFLICT when the video has moved on
	// (another attempt got there first), ENOTFOUND.
	TransitionVideo(ctx context.Context, id int64, status VideoStatus, stage VideoStage, upd VideoUpdate) (*Video, error)
	// SetVideoProgress records progress within a running stage, without a
	// version bump; it is a no-op if the video is no longer there.
	SetVideoProgress(ctx context.Context, id int64, stage VideoStage, progress float64) error
	// CompleteVideo makes a video at StageComplete READY and the lecture's
	// current video in one transaction, and marks the video it replaces.
	// It returns the video and the replaced one (nil if none). ECONFLICT if
	// the video is not at StageComplete; ENOTFOUND.
	CompleteVideo(ctx context.Context, id int64) (video, replaced *Video, err error)
	// FindUnfinishedVideos returns the videos the chain still owes work:
	// UPLOADED or PROCESSING, not changed since before.
	FindUnfinishedVideos(ctx context.Context, before time.Time) ([]*Video, error)
	// FindExpiredUploads returns AWAITING_UPLOAD videos whose upload expired
	// before now.
	FindExpiredUploads(ctx context.Context, now time.Time) ([]*Video, error)
	// FindReplacedVideos returns videos whose outputs wait to be deleted.
	FindReplacedVideos(ctx context.Context) ([]*Video, error)
	// DeleteVideo removes a video's row, once its blobs are gone. A missing
	// video is not an error; the lecture's current video is ECONFLICT.
	DeleteVideo(ctx context.Context, id int64) error
	// FindVideos returns one page of the videos of every visible lecture,
	// not replaced, newest first, and whether more follow: what admins
	// look through (see VideoFilter). EINVALID for a negative limit.
	FindVideos(ctx context.Context, f VideoFilter) (videos []*Video, hasMore bool, err error)
	// CountVideos counts the videos FindVideos would list, by status; a
	// status no video has is absent.
	CountVideos(ctx context.Context) (map[VideoStatus]int, error)
}

// FormatBytes prints a size for people: "1.5 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// FormatDuration prints seconds for people: "4h", "1h 30m", "12m 5s", "9s".
func FormatDuration(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	var parts []string
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%dh", h))
	}
	if m > 0 {
		parts = append(parts, fmt.Sprintf("%dm", m))
	}
	if s > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%ds", s))
	}
	return strings.Join(parts, " ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// PlaybackURLs makes the signed, expiring URLs a viewer plays a READY video
// with. Callers decide who may have them (CanWatchLecture).
type PlaybackURLs interface {
	// Sign fixes the expiry of v's URLs and signs them once: a page that
	// hands out several of them (the lecture page asks for three) asks
	// once and takes each from the result.
	Sign(v *Video) SignedVideo
}

// SignedVideo is one video's URLs, all of one expiry.
type SignedVideo interface {
	// PlaybackURL is the HLS master playlist.
	PlaybackURL() (string, error)
	// ThumbnailURL is the poster image; it is presigned by the blob store
	// (or the CDN) when asked for, not before.
	ThumbnailURL(ctx context.Context) (string, error)
	// StoryboardURL is the WebVTT thumbnails track.
	StoryboardURL() (string, error)
}
