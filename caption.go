package edustream

import "time"

// Captions: text tracks of a video, one per language, shown by the player
// and searched by students. An instructor uploads them (WebVTT or SRT), or
// the chain's captions step makes an automatic one from the audio. A track
// belongs to one video: its times are that recording's.

// CaptionKind is what a track is for, as HLS and WebVTT name it.
type CaptionKind string

const (
	// CaptionSubtitles transcribe or translate the dialogue.
	CaptionSubtitles CaptionKind = "SUBTITLES"
	// CaptionCaptions also describe sounds, for viewers who cannot hear.
	CaptionCaptions CaptionKind = "CAPTIONS"
)

// CaptionSource says who made a track.
type CaptionSource string

const (
	CaptionUploaded  CaptionSource = "UPLOADED"
	CaptionAutomatic CaptionSource = "AUTOMATIC"
)

// CaptionStatus says whether a track plays.
type CaptionStatus string

const (
	CaptionReady CaptionStatus = "READY"
	// CaptionFailed is an automatic track the engine could not make; Error
	// says why, for the instructor.
	CaptionFailed CaptionStatus = "FAILED"
)

// Caption is one track of a video.
type Caption struct {
	ID        int64
	VideoID   int64
	LectureID int64
	// Language is a BCP 47 tag in canonical form.
	Language string
	Label    string
	Kind     CaptionKind
	Source   CaptionSource
	Status   CaptionStatus
	Error    string
	CueCount int
	// Version grows with every replacement of the track's content.
	Version   int64
	CreatedBy int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CaptionCue is one cue of a track as search sees it: its times and its
// text without markup.
type CaptionCue struct {
	Start, End time.Duration
	Text       string
}
