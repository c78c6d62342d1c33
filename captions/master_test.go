package captions_test

import (
	"strings"
	"testing"

	"github.com/edustream/edustream/captions"
)

const master = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=827115,RESOLUTION=320x240,CODECS=\"avc1.64001e,mp4a.40.2\"\n240p/index.m3u8\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=640x480,CODECS=\"avc1.64001e,mp4a.40.2\"\n480p/index.m3u8\n"

func TestAddSubtitles(t *testing.T) {
	t.Parallel()
	got, err := captions.AddSubtitles([]byte(master), []captions.SubtitleRendition{
		{Language: "en", Name: "English", Default: true, DescribesSound: true, URI: "captions/1-v2/index.m3u8"},
		{Language: "ko", Name: "한국어 (automatic)", AutoSelect: true, URI: "https://cdn.example/c/2/index.m3u8?sig=a,b"},
		{Language: "fr-CA", Name: "Français", URI: "captions/3-v1/index.m3u8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
		`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound",URI="captions/1-v2/index.m3u8"` + "\n" +
		`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="한국어 (automatic)",LANGUAGE="ko",DEFAULT=NO,AUTOSELECT=YES,URI="https://cdn.example/c/2/index.m3u8?sig=a,b"` + "\n" +
		`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Français",LANGUAGE="fr-CA",DEFAULT=NO,AUTOSELECT=NO,URI="captions/3-v1/index.m3u8"` + "\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=827115,RESOLUTION=320x240,CODECS=\"avc1.64001e,mp4a.40.2\",SUBTITLES=\"subs\"\n240p/index.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=640x480,CODECS=\"avc1.64001e,mp4a.40.2\",SUBTITLES=\"subs\"\n480p/index.m3u8\n"
	if string(got) != want {
		t.Fatalf("AddSubtitles:\n%s\nwant:\n%s", got, want)
	}

	same, err := captions.AddSubtitles([]byte(master), nil)
	if err != nil || string(same) != master {
		t.Fatalf("no renditions: %v\n%s", err, same)
	}
}

func TestAddSubtitlesRefuses(t *testing.T) {
	t.Parallel()
	en := captions.SubtitleRendition{Language: "en", Name: "English", URI: "en.m3u8"}
	with := func(f func(r *captions.SubtitleRendition)) captions.SubtitleRendition { r := en; f(&r); return r }
	tests := []struct {
		name   string
		master string
		rs     []captions.SubtitleRendition
		msg    string
	}{
		{"not a playlist", "<html>", []captions.SubtitleRendition{en}, "does not start with #EXTM3U"},
		{"media playlist", "#EXTM3U\n#EXTINF:4,\nseg.ts\n", []captions.SubtitleRendition{en}, "not a master playlist"},
		{"already has a group", strings.Replace(master, "#EXT-X-INDEPENDENT-SEGMENTS", `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="x",URI="x"`, 1), []captions.SubtitleRendition{en}, "already has subtitles"},
		{"already on a variant", strings.Replace(master, "RESOLUTION=320x240", `SUBTITLES="s",RESOLUTION=320x240`, 1), []captions.SubtitleRendition{en}, "already has subtitles"},
		{"quote in name", master, []captions.SubtitleRendition{with(func(r *captions.SubtitleRendition) { r.Name = `a",DEFAULT=YES` })}, "cannot be a rendition's name"},
		{"line break in URI", master, []captions.SubtitleRendition{with(func(r *captions.SubtitleRendition) { r.URI = "a\n#EXT-X-ENDLIST" })}, "cannot be a rendition's URI"},
		{"no URI", master, []captions.SubtitleRendition{with(func(r *captions.SubtitleRendition) { r.URI = "" })}, "cannot be a rendition's URI"},
		{"bad language", master, []captions.SubtitleRendition{with(func(r *captions.SubtitleRendition) { r.Language = `en"` })}, "not a language tag"},
		{"same name twice", master, []captions.SubtitleRendition{en, with(func(r *captions.SubtitleRendition) { r.Language = "fr" })}, `two renditions are named "English"`},
		{"two defaults", master, []captions.SubtitleRendition{
			with(func(r *captions.SubtitleRendition) { r.Default = true }),
			with(func(r *captions.SubtitleRendition) { r.Default, r.Name = true, "B" }),
		}, "more than one rendition is the default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := captions.AddSubtitles([]byte(tt.master), tt.rs)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("AddSubtitles = %q, %v; want …%q…", got, err, tt.msg)
			}
		})
	}
}
