package edustream

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Limits on caption tracks. They are part of the public contract: the
// upload form validates against the same numbers.
const (
	// MaxCaptionBytes bounds a caption file: a dense 4-hour lecture is
	// about 300 KB of WebVTT, and the file travels in a GraphQL request.
	MaxCaptionBytes = 512 << 10
	// MaxCaptionCues bounds a track's cues (a cue every second for 4 hours
	// is 14,400).
	MaxCaptionCues = 20000
	// MaxCaptionLabelLength is the label's column width, in characters.
	MaxCaptionLabelLength = 100
	// MaxCaptionLanguageLength is a BCP 47 tag's column width.
	MaxCaptionLanguageLength = 35
)

// The names of a track's files under its blob prefix (Caption.BlobPrefix).
const (
	// CaptionFileName is the whole track as normalised WebVTT: what
	// Caption.url serves, for a <track> element or a download.
	CaptionFileName = "captions.vtt"
	// CaptionPlaylistName is the HLS subtitle playlist the master's
	// SUBTITLES group names; its segments sit next to it.
	CaptionPlaylistName = "index.m3u8"
)

// BlobPrefix is where the track's files live: under its video's prefix,
// so they go with the video, and with its id and version, so a replaced
// track's files never mix with the new ones while players still hold the
// old playlist.
func (c *Caption) BlobPrefix() string {
	return VideoPrefix(c.VideoID) + c.StreamDir()
}

// StreamDir is the track's directory relative to its video's prefix, as
// the playback URLs name it: captions/<id>-v<version>/.
func (c *Caption) StreamDir() string {
	return "captions/" + strconv.FormatInt(c.ID, 10) + "-v" + strconv.FormatInt(c.Version, 10) + "/"
}

// CaptionService stores caption tracks and their cues. Its writes are
// Captions' alone.
type CaptionService interface {
	// FindCaptionByID returns a track. ENOTFOUND.
	FindCaptionByID(ctx context.Context, id int64) (*Caption, error)
	// FindCaptionsByVideoIDs returns each video's tracks in language
	// order; a video without tracks is absent from the map.
	FindCaptionsByVideoIDs(ctx context.Context, videoIDs []int64) (map[int64][]*Caption, error)
	// FindCaptionCues returns a track's cues in order (none for a FAILED
	// track). ENOTFOUND for a missing track.
	FindCaptionCues(ctx context.Context, captionID int64) ([]CaptionCue, error)
	// PutCaption makes c, with cues, the track of its video's language in
	// one transaction: a new row (ID set, Version 1), or the existing track
	// replaced in place (same ID, Version one more, its cues replaced);
	// the other fields of c are stored as given, and the times set. It
	// returns the track it replaced (nil if none).
	//
	// keep, if not nil, is asked about an existing track first: when it
	// says so, nothing is written and PutCaption returns that track with
	// ECONFLICT. write, if not nil, runs inside the transaction once c's
	// ID and Version are final, to store what the row will name (the
	// blobs); its error rolls everything back and is returned.
	PutCaption(ctx context.Context, c *Caption, cues []CaptionCue, keep func(existing *Caption) bool, write func(*Caption) error) (replaced *Caption, err error)
	// DeleteCaption removes a track and its cues and returns it. ENOTFOUND.
	DeleteCaption(ctx context.Context, id int64) (*Caption, error)
}

// CaptionTrack is a caption file that passed validation.
type CaptionTrack struct {
	// WebVTT is the track in normalised WebVTT (SRT converted).
	WebVTT []byte
	// Cues are what search and the database keep: times and plain text.
	Cues []CaptionCue
}

// CaptionFormat reads caption files and cuts them for HLS (package
// captions, through package captionfiles). The domain only decides what
// is stored where.
type CaptionFormat interface {
	// ParseCaptions validates content, WebVTT or SRT (told apart by their
	// content), against the limits and the video's duration (0: unknown).
	// EINVALID for a file it refuses, the message naming the line.
	ParseCaptions(content []byte, duration time.Duration) (*CaptionTrack, error)
	// SegmentCaptions cuts a track's WebVTT into v's HLS subtitle playlist
	// (CaptionPlaylistName) and its segments, aligned with v's published
	// stream, and returns them by file name.
	SegmentCaptions(ctx context.Context, v *Video, webvtt []byte) (map[string][]byte, error)
}

// CaptionURLs signs the URL of a READY track's WebVTT file. Playback URL
// signers implement it next to PlaybackURLs; callers decide who may have
// it (CanWatchLecture).
type CaptionURLs interface {
	CaptionURL(ctx context.Context, v *Video, c *Caption) (string, error)
}

// CaptionInput is what an instructor sends to add a track (addCaption).
type CaptionInput struct {
	LectureID int64
	// Language is a BCP 47 tag, canonicalised before it is stored.
	Language string
	// Label is what players list; empty: the language's own name.
	Label string
	// Kind is empty for SUBTITLES.
	Kind CaptionKind
	// Content is the WebVTT or SRT file.
	Content string
}

// Captions adds, replaces and removes the caption tracks of videos: an
// instructor's uploaded tracks (Add, Remove) and the chain's automatic
// ones (PutAutomaticCaption, RecordAutomaticCaptionFailure). A track
// belongs to one video, one per language; a new video of the lecture
// starts without tracks (its times are another recording's).
//
// A write stores the track's files first (the normalised WebVTT and its
// HLS playlist and segments, under a key with the track's id and
// version), then commits the row and the cues that search reads, in one
// transaction; the files of the version it replaced are deleted after.
// The master playlist is never rewritten: playback adds the SUBTITLES
// group of the READY tracks when it serves it, so no write re-transcodes.
type Captions struct {
	Store    CaptionService
	Videos   VideoService
	Lectures LectureService
	Courses  CourseService
	Blobs    BlobStore
	Format   CaptionFormat
	// Events, if set, hears every change: the response caches drop what
	// they hold about the video.
	Events EventService
}

// Add stores an uploaded track on the lecture's current video, replacing
// the track of its language, whoever made it. The course's instructor or
// an admin only (EFORBIDDEN; ENOTFOUND when u may not see the lecture).
// EINVALID for a bad language, label, kind or file, or a lecture without
// a video.
func (cs *Captions) Add(ctx context.Context, u *User, in CaptionInput) (*Caption, error) {
	lecture, err := cs.editableLecture(ctx, u, in.LectureID)
	if err != nil {
		return nil, err
	}
	if lecture.VideoID == nil {
		return nil, Errorf(EINVALID, "lecture %d has no ready video yet: captions belong to a video, add them once it plays", lecture.ID)
	}
	v, err := cs.Videos.FindVideoByID(ctx, *lecture.VideoID)
	if err != nil {
		return nil, err
	}
	c := &Caption{VideoID: v.ID, LectureID: v.LectureID, Label: in.Label, Kind: in.Kind,
		Source: CaptionUploaded, Status: CaptionReady, CreatedBy: u.ID}
	if err := c.setLanguage(in.Language); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if len(in.Content) > MaxCaptionBytes {
		return nil, Errorf(EINVALID, "the caption file is %s; it may be at most %s", FormatBytes(int64(len(in.Content))), FormatBytes(MaxCaptionBytes))
	}
	track, err := cs.Format.ParseCaptions([]byte(in.Content), v.duration())
	if err != nil {
		return nil, err
	}
	if len(track.Cues) == 0 {
		return nil, Errorf(EINVALID, "the caption file has no cues")
	}
	return cs.put(ctx, v, c, track, nil)
}

// Remove deletes a track and its files. The course's instructor or an
// admin only (EFORBIDDEN; ENOTFOUND when u may not see the lecture).
func (cs *Captions) Remove(ctx context.Context, u *User, id int64) (*Caption, error) {
	c, err := cs.Store.FindCaptionByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := cs.editableLecture(ctx, u, c.LectureID); ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "caption %d not found", id)
	} else if err != nil {
		return nil, err
	}
	if c, err = cs.Store.DeleteCaption(ctx, id); err != nil {
		return nil, err
	}
	cs.dropFiles(ctx, c)
	cs.announce(ctx, c)
	return c, nil
}

// PutAutomaticCaption stores vtt, the speech-to-text engine's WebVTT for
// v in language, as v's automatic track of that language, replacing an
// automatic (or failed) one. An uploaded track of the language stays: the
// call then writes nothing and returns that track, with no error, so the
// step is done. EINVALID for a language or a file that does not pass
// validation (nothing is written).
func (cs *Captions) PutAutomaticCaption(ctx context.Context, v *Video, lang string, vtt []byte) (*Caption, error) {
	c := &Caption{VideoID: v.ID, LectureID: v.LectureID, Kind: CaptionSubtitles, Source: CaptionAutomatic, Status: CaptionReady}
	if err := c.setLanguage(lang); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	track, err := cs.Format.ParseCaptions(vtt, v.duration())
	if err != nil {
		return nil, fmt.Errorf("the speech-to-text engine's captions: %w", err)
	}
	return cs.put(ctx, v, c, track, func(existing *Caption) bool { return existing.Source == CaptionUploaded })
}

// RecordAutomaticCaptionFailure records that no automatic track of
// language could be made for v, and why (for the instructor, through
// Caption.status and error): a FAILED track without cues. A READY track
// of the language, uploaded or automatic, stays as it is. It never fails
// the video: the caller logs an error and goes on.
func (cs *Captions) RecordAutomaticCaptionFailure(ctx context.Context, v *Video, lang, reason string) error {
	c := &Caption{VideoID: v.ID, LectureID: v.LectureID, Kind: CaptionSubtitles, Source: CaptionAutomatic,
		Status: CaptionFailed, Error: truncateRunes(strings.ToValidUTF8(reason, "\uFFFD"), MaxVideoErrorLength)}
	if strings.TrimSpace(c.Error) == "" {
		c.Error = "the speech-to-text engine failed"
	}
	if err := c.setLanguage(lang); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	_, err := cs.put(ctx, v, c, &CaptionTrack{}, func(existing *Caption) bool { return existing.Status == CaptionReady })
	return err
}

// put stores c with track's files and cues (see Captions), unless keep
// keeps the existing track, which is then returned.
func (cs *Captions) put(ctx context.Context, v *Video, c *Caption, track *CaptionTrack, keep func(*Caption) bool) (*Caption, error) {
	var files map[string][]byte
	if c.Status == CaptionReady {
		segments, err := cs.Format.SegmentCaptions(ctx, v, track.WebVTT)
		if err != nil {
			return nil, fmt.Errorf("segment the captions of video %d: %w", v.ID, err)
		}
		files = make(map[string][]byte, len(segments)+1)
		for name, b := range segments {
			files[name] = b
		}
		files[CaptionFileName] = track.WebVTT
	}
	c.CueCount = len(track.Cues)
	var written []string
	replaced, err := cs.Store.PutCaption(ctx, c, track.Cues, keep, func(c *Caption) error {
		for name, b := range files {
			key := c.BlobPrefix() + name
			written = append(written, key)
			if err := cs.Blobs.Put(ctx, key, bytes.NewReader(b), int64(len(b)), captionFileMeta(name)); err != nil {
				return fmt.Errorf("store %s: %w", key, err)
			}
		}
		return nil
	})
	if ErrorCode(err) == ECONFLICT && replaced != nil {
		return replaced, nil // kept
	}
	if err != nil {
		if len(written) > 0 {
			// Under a version no row names: safe to drop, and left to
			// the video's removal if this fails too.
			if derr := cs.Blobs.Delete(ctx, written...); derr != nil {
				Logger(ctx).Warn("delete the files of a caption track that was not stored; they go with the video",
					slog.Int64("video_id", v.ID), slog.String("error", derr.Error()))
			}
		}
		return nil, err
	}
	if replaced != nil {
		cs.dropFiles(ctx, replaced)
	}
	cs.announce(ctx, c)
	return c, nil
}

// captionFileMeta is how a track's files are served: they never change
// under their key (a new version has a new one).
func captionFileMeta(name string) BlobMeta {
	meta := BlobMeta{ContentType: "text/vtt; charset=utf-8", CacheControl: "public, max-age=31536000, immutable"}
	if strings.HasSuffix(name, ".m3u8") {
		meta.ContentType = "application/vnd.apple.mpegurl"
	}
	return meta
}

// dropFiles deletes a removed or replaced track's files. Best effort: what
// is left goes with the video's outputs.
func (cs *Captions) dropFiles(ctx context.Context, c *Caption) {
	if err := DeleteBlobPrefix(ctx, cs.Blobs, c.BlobPrefix()); err != nil {
		Logger(ctx).Warn("delete an old caption track's files; they go with the video",
			slog.Int64("caption_id", c.ID), slog.Int64("version", c.Version), slog.String("error", err.Error()))
	}
}

// announce tells the response caches (every instance) that the video's
// tracks changed: the writes of the chain do not go through GraphQL.
func (cs *Captions) announce(ctx context.Context, c *Caption) {
	AnnounceContentChange(ctx, cs.Events, ContentChange{LectureID: c.LectureID, VideoID: c.VideoID})
}

// editableLecture loads a lecture whose course u may change: ENOTFOUND if
// u may not even see it, EFORBIDDEN if u may see but not change it.
func (cs *Captions) editableLecture(ctx context.Context, u *User, lectureID int64) (*Lecture, error) {
	if u == nil {
		return nil, Errorf(EUNAUTHENTICATED, "sign in to change captions")
	}
	notFound := Errorf(ENOTFOUND, "lecture %d not found", lectureID)
	l, err := cs.Lectures.FindLectureByID(ctx, lectureID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	c, err := cs.Courses.FindCourseByID(ctx, l.CourseID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	switch {
	case !CanViewCourse(u, c):
		return nil, notFound
	case !CanEditCourse(u, c):
		return nil, Errorf(EFORBIDDEN, "only the course's instructor or an admin may change the captions of lecture %d", lectureID)
	}
	return l, nil
}

// setLanguage validates tag as BCP 47 and stores its canonical form ("en-us"
// becomes "en-US", "iw" becomes "he").
func (c *Caption) setLanguage(tag string) error {
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return Errorf(EINVALID, "language must be a BCP 47 tag such as en or pt-BR")
	}
	t, err := language.Parse(tag)
	if err != nil || len(tag) > MaxCaptionLanguageLength {
		return Errorf(EINVALID, "language %q is not a BCP 47 tag such as en or pt-BR", truncate(tag, 40))
	}
	if t == language.Und {
		return Errorf(EINVALID, "language must name a language, not %q", tag)
	}
	c.Language = t.String()
	if len(c.Language) > MaxCaptionLanguageLength {
		return Errorf(EINVALID, "language %q is longer than %d characters", truncate(tag, 40), MaxCaptionLanguageLength)
	}
	return nil
}

// validate checks the label and kind and fills their defaults: the
// SUBTITLES kind, and the language's own name as the label ("Deutsch",
// "English (automatic)").
func (c *Caption) validate() error {
	switch c.Kind {
	case "":
		c.Kind = CaptionSubtitles
	case CaptionSubtitles, CaptionCaptions:
	default:
		return Errorf(EINVALID, "kind must be SUBTITLES or CAPTIONS, not %q", truncate(string(c.Kind), 20))
	}
	c.Label = strings.TrimSpace(c.Label)
	if c.Label == "" {
		c.Label = LanguageName(c.Language)
		if c.Source == CaptionAutomatic {
			c.Label += " (automatic)"
		}
	}
	switch {
	case utf8.RuneCountInString(c.Label) > MaxCaptionLabelLength:
		return Errorf(EINVALID, "label must be at most %d characters", MaxCaptionLabelLength)
	case !validText(c.Label, false):
		return Errorf(EINVALID, "label must be valid UTF-8 without control characters")
	}
	return nil
}

// LanguageName is a language's name in itself ("English", "português
// (Brasil)"), or the tag when it has none.
func LanguageName(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return tag
	}
	if name := display.Self.Name(t); name != "" {
		return name
	}
	return tag
}

// duration is the video's length, which cues may not run past (0: not
// known).
func (v *Video) duration() time.Duration {
	if v.Media == nil {
		return 0
	}
	return time.Duration(v.Media.DurationSeconds * float64(time.Second))
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
