package server

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/captions"
)

// Caption tracks in the stream. The stored master playlist never changes:
// when the handler serves it, it adds the SUBTITLES group of the video's
// READY tracks (captions.AddSubtitles), whose playlists it serves like the
// variants' (/play/<video>/captions/<id>-v<version>/index.m3u8, segment
// URIs presigned). So adding or removing a track never re-transcodes, and
// a player that loads the stream again sees the change.

// captionName matches the names of a track's files the handler serves:
// its subtitle playlist and its whole WebVTT (Caption.url).
var captionName = regexp.MustCompile(`^captions/[0-9]{1,19}-v[0-9]{1,19}/(` +
	regexp.QuoteMeta(edustream.CaptionPlaylistName) + `|` + regexp.QuoteMeta(edustream.CaptionFileName) + `)$`)

// captionFile returns the blob key and content type of a track's file
// named by a /play/ URL, and false for any other name.
func captionFile(videoID int64, name string) (key, contentType string, ok bool) {
	if !captionName.MatchString(name) {
		return "", "", false
	}
	if strings.HasSuffix(name, ".m3u8") {
		return edustream.VideoPrefix(videoID) + name, "application/vnd.apple.mpegurl", true
	}
	return edustream.VideoPrefix(videoID) + name, "text/vtt; charset=utf-8", true
}

// captionPlaylistName returns the /play/ name of a track's playlist at blob
// key target, and false for any other key.
func captionPlaylistName(videoID int64, target string) (string, bool) {
	name, ok := strings.CutPrefix(target, edustream.VideoPrefix(videoID))
	if !ok || !captionName.MatchString(name) || path.Base(name) != edustream.CaptionPlaylistName {
		return "", false
	}
	return name, true
}

// CaptionURL returns the signed URL of a track's whole WebVTT file.
func (p *Playback) CaptionURL(_ context.Context, v *edustream.Video, c *edustream.Caption) (string, error) {
	exp := p.expiry()
	return p.streamURL(v.ID, c.StreamDir()+edustream.CaptionFileName, exp, p.signature(v.ID, exp))
}

var _ edustream.CaptionURLs = (*Playback)(nil)

// withSubtitles adds the video's READY tracks to its master playlist, their
// URIs relative to it (the rewrite signs them). Without tracks, or without
// a caption store, the master is served as stored.
func (p *Playback) withSubtitles(ctx context.Context, videoID int64, master []byte) ([]byte, error) {
	if p.cfg.Captions == nil {
		return master, nil
	}
	byVideo, err := p.cfg.Captions.FindCaptionsByVideoIDs(ctx, []int64{videoID})
	if err != nil {
		return nil, err
	}
	var renditions []captions.SubtitleRendition
	for _, c := range byVideo[videoID] {
		if c.Status != edustream.CaptionReady {
			continue
		}
		renditions = append(renditions, captions.SubtitleRendition{
			Language:       c.Language,
			Name:           uniqueName(renditions, c.Label),
			AutoSelect:     true,
			DescribesSound: c.Kind == edustream.CaptionCaptions,
			// The master is at <video>/hls/; the tracks at <video>/captions/.
			URI: "../" + c.StreamDir() + edustream.CaptionPlaylistName,
		})
	}
	if len(renditions) == 0 {
		return master, nil
	}
	return captions.AddSubtitles(master, renditions)
}

// uniqueName keeps the NAMEs of a group distinct, as HLS requires: two
// tracks may share a label ("English" for en-US and en-GB).
func uniqueName(renditions []captions.SubtitleRendition, label string) string {
	name := label
	for n := 2; ; n++ {
		taken := false
		for _, r := range renditions {
			taken = taken || r.Name == name
		}
		if !taken {
			return name
		}
		name = fmt.Sprintf("%s (%d)", label, n)
	}
}
