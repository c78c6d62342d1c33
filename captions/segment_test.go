package captions_test

import (
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream/captions"
)

// fourSeconds is a 12-second rendition in 4-second segments whose first
// frame is at 1.48 s, as our transcoder writes them (see
// TestSubtitlesPlayInFFmpeg).
var fourSeconds = captions.MediaTimeline{
	SegmentDurations: []time.Duration{4 * time.Second, 4 * time.Second, 4 * time.Second},
	FirstPTS:         133200,
	TargetDuration:   4,
}

func TestSegment(t *testing.T) {
	t.Parallel()
	tr := mustParse(t, "WEBVTT\n\nREGION\nid:r width:50%\n\n"+
		"00:01.000 --> 00:02.000\nfirst\n\n"+
		"across\n00:03.500 --> 00:04.500 region:r\nacross a boundary\n\n"+
		"00:07.500 --> 00:07.900\nat <i>7.5</i> s\n\n"+
		"00:11.000 --> 00:13.000\npast the end\n")
	playlist, files, err := captions.Segment(tr, fourSeconds)
	if err != nil {
		t.Fatal(err)
	}
	wantPlaylist := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n" +
		"#EXTINF:4.000000,\nseg_00000.vtt\n#EXTINF:4.000000,\nseg_00001.vtt\n#EXTINF:4.000000,\nseg_00002.vtt\n#EXT-X-ENDLIST\n"
	if string(playlist) != wantPlaylist {
		t.Errorf("playlist:\n%s\nwant:\n%s", playlist, wantPlaylist)
	}
	const head = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:133200,LOCAL:00:00:00.000\n\nREGION\nid:r width:50%\n"
	const across = "\nacross\n00:00:03.500 --> 00:00:04.500 region:r\nacross a boundary\n"
	want := []captions.File{
		{Name: "seg_00000.vtt", Data: []byte(head + "\n00:00:01.000 --> 00:00:02.000\nfirst\n" + across + "\n")},
		{Name: "seg_00001.vtt", Data: []byte(head + across + "\n00:00:07.500 --> 00:00:07.900\nat <i>7.5</i> s\n\n")},
		{Name: "seg_00002.vtt", Data: []byte(head + "\n00:00:11.000 --> 00:00:13.000\npast the end\n\n")},
	}
	if len(files) != len(want) {
		t.Fatalf("%d files, want %d", len(files), len(want))
	}
	for i := range want {
		if files[i].Name != want[i].Name || string(files[i].Data) != string(want[i].Data) {
			t.Errorf("file %d = %s:\n%s\nwant %s:\n%s", i, files[i].Name, files[i].Data, want[i].Name, want[i].Data)
		}
		// Every segment is a WebVTT file of its own.
		if _, err := captions.Parse(files[i].Data, captions.Limits{}); err != nil {
			t.Errorf("segment %d does not parse: %v", i, err)
		}
	}
}

func TestSegmentEdges(t *testing.T) {
	t.Parallel()
	tr := mustParse(t, "WEBVTT\n\n00:04.000 --> 00:08.000\nexactly the second segment\n")
	media := captions.MediaTimeline{SegmentDurations: []time.Duration{4 * time.Second, 4 * time.Second, 2500 * time.Millisecond}}
	playlist, files, err := captions.Segment(tr, media)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		if got, want := strings.Contains(string(f.Data), "exactly"), i == 1; got != want {
			t.Errorf("segment %d holds the cue: %t, want %t", i, got, want)
		}
		if !strings.HasPrefix(string(f.Data), "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n") {
			t.Errorf("segment %d header: %q", i, f.Data)
		}
	}
	if !strings.Contains(string(playlist), "#EXT-X-TARGETDURATION:4\n") || !strings.Contains(string(playlist), "#EXTINF:2.500000,\nseg_00002.vtt\n") {
		t.Errorf("playlist:\n%s", playlist)
	}

	empty := &captions.Track{}
	if _, files, err := captions.Segment(empty, fourSeconds); err != nil || len(files) != 3 || string(files[2].Data) != "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:133200,LOCAL:00:00:00.000\n\n" {
		t.Errorf("empty track: %v, %q", err, files)
	}
	for name, m := range map[string]captions.MediaTimeline{
		"no segments":    {},
		"empty segment":  {SegmentDurations: []time.Duration{4 * time.Second, 0}},
		"negative PTS":   {SegmentDurations: []time.Duration{time.Second}, FirstPTS: -1},
		"PTS of 34 bits": {SegmentDurations: []time.Duration{time.Second}, FirstPTS: 1 << 33},
	} {
		if _, _, err := captions.Segment(tr, m); err == nil {
			t.Errorf("%s: Segment succeeded", name)
		}
	}
}
