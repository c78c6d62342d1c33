package captions

import "errors"

// SubtitleGroup is the GROUP-ID AddSubtitles gives the subtitle renditions.
const SubtitleGroup = "subs"

// SubtitleRendition is one caption track as a master playlist lists it.
type SubtitleRendition struct {
	// Language is the track's BCP 47 tag.
	Language string
	// Name is what the player's menu shows, unique in the master.
	Name string
	// Default makes players show it without being asked (it implies
	// AutoSelect); at most one rendition may be the default.
	Default bool
	// AutoSelect lets a player pick it to match the viewer's language.
	AutoSelect bool
	// DescribesSound marks a CAPTIONS track (transcribing dialogue and
	// describing music and sound, for viewers who cannot hear) as opposed
	// to SUBTITLES; it sets the accessibility CHARACTERISTICS.
	DescribesSound bool
	// URI is the subtitle media playlist, relative to the master or
	// absolute.
	URI string
}

// AddSubtitles returns master with an EXT-X-MEDIA:TYPE=SUBTITLES line per
// rendition in the group SubtitleGroup and SUBTITLES="subs" on every
// EXT-X-STREAM-INF. With no renditions it returns master unchanged.
func AddSubtitles(master []byte, renditions []SubtitleRendition) ([]byte, error) {
	return nil, errors.New("not implemented yet")
}
