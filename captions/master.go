package captions

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// SubtitleGroup is the GROUP-ID AddSubtitles gives the subtitle renditions.
const SubtitleGroup = "subs"

// captionCharacteristics mark a CAPTIONS track in HLS (Apple's HLS
// authoring spec): it transcribes the dialogue and describes music and
// sound, for viewers who cannot hear.
const captionCharacteristics = "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound"

// SubtitleRendition is one caption track as a master playlist lists it.
type SubtitleRendition struct {
	// Language is the track's BCP 47 tag.
	Language string
	// Name is what the player's menu shows, unique among the renditions.
	Name string
	// Default makes players show it without being asked (it implies
	// AutoSelect); at most one rendition may be the default.
	Default bool
	// AutoSelect lets a player pick it to match the viewer's language.
	AutoSelect bool
	// DescribesSound marks a CAPTIONS track as opposed to SUBTITLES; it
	// sets the accessibility CHARACTERISTICS.
	DescribesSound bool
	// URI is the subtitle media playlist, relative to the master or
	// absolute.
	URI string
}

// A quoted-string attribute cannot hold a quote or a line break (RFC 8216
// §4.2); a language tag is letters, digits and hyphens.
var (
	quotedUnsafe = regexp.MustCompile(`["\r\n]`)
	bcp47Like    = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)
)

// AddSubtitles returns master with an EXT-X-MEDIA:TYPE=SUBTITLES line per
// rendition in the group SubtitleGroup, before the first variant, and
// SUBTITLES="subs" on every EXT-X-STREAM-INF. With no renditions it returns
// master unchanged.
func AddSubtitles(master []byte, renditions []SubtitleRendition) ([]byte, error) {
	if len(renditions) == 0 {
		return master, nil
	}
	media, err := subtitleMedia(renditions)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.ReplaceAll(string(master), "\r\n", "\n"), "\n")
	if strings.TrimSpace(lines[0]) != "#EXTM3U" {
		return nil, errors.New("add subtitles: the master playlist does not start with #EXTM3U")
	}
	var out bytes.Buffer
	variants := 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "#EXT-X-MEDIA:") && strings.Contains(l, "TYPE=SUBTITLES"):
			return nil, errors.New("add subtitles: the master playlist already has subtitles")
		case strings.HasPrefix(l, "#EXT-X-STREAM-INF:"):
			if strings.Contains(l, "SUBTITLES=") {
				return nil, errors.New("add subtitles: the master playlist already has subtitles")
			}
			if variants == 0 {
				out.WriteString(media)
			}
			variants++
			l += `,SUBTITLES="` + SubtitleGroup + `"`
		}
		out.WriteString(l + "\n")
	}
	if variants == 0 {
		return nil, errors.New("add subtitles: the playlist has no EXT-X-STREAM-INF; it is not a master playlist")
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// subtitleMedia writes the EXT-X-MEDIA lines of the renditions.
func subtitleMedia(renditions []SubtitleRendition) (string, error) {
	var b strings.Builder
	names := map[string]bool{}
	defaults := 0
	for _, r := range renditions {
		switch {
		case !bcp47Like.MatchString(r.Language):
			return "", fmt.Errorf("add subtitles: %q is not a language tag", r.Language)
		case r.Name == "" || quotedUnsafe.MatchString(r.Name):
			return "", fmt.Errorf("add subtitles: %q cannot be a rendition's name", r.Name)
		case names[r.Name]:
			return "", fmt.Errorf("add subtitles: two renditions are named %q", r.Name)
		case r.URI == "" || quotedUnsafe.MatchString(r.URI):
			return "", fmt.Errorf("add subtitles: %q cannot be a rendition's URI", r.URI)
		}
		names[r.Name] = true
		if r.Default {
			defaults++
		}
		fmt.Fprintf(&b, `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="%s",NAME="%s",LANGUAGE="%s",DEFAULT=%s,AUTOSELECT=%s`,
			SubtitleGroup, r.Name, r.Language, yesNo(r.Default), yesNo(r.Default || r.AutoSelect))
		if r.DescribesSound {
			fmt.Fprintf(&b, `,CHARACTERISTICS="%s"`, captionCharacteristics)
		}
		fmt.Fprintf(&b, ",URI=\"%s\"\n", r.URI)
	}
	if defaults > 1 {
		return "", errors.New("add subtitles: more than one rendition is the default")
	}
	return b.String(), nil
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}
