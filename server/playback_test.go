package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/local"
	"github.com/edustream/edustream/storage/s3"
)

// playbackSetup is the API's /play/ and the local store's /blobs/ on one
// test server, with a stream of one rendition stored as the chain leaves it,
// and a clock the test moves.
type playbackSetup struct {
	url      string
	playback *server.Playback
	now      *atomic.Int64
	video    *edustream.Video
}

func setupPlayback(t *testing.T) *playbackSetup {
	t.Helper()
	p := &playbackSetup{now: &atomic.Int64{}, video: &edustream.Video{ID: 7, Status: edustream.VideoReady}}
	p.now.Store(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).Unix())
	clock := func() time.Time { return time.Unix(p.now.Load(), 0) }
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	blobs, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: srv.URL, SigningKey: bytes.Repeat([]byte("b"), 32), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	p.playback, err = server.NewPlayback(server.PlaybackConfig{BaseURL: srv.URL, Key: bytes.Repeat([]byte("p"), 32), TTL: time.Hour, Blobs: blobs, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/play/", p.playback)
	mux.Handle(local.RoutePrefix, blobs.Handler())

	v := p.video
	files := map[string]string{
		v.MasterPlaylistKey():               "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360\n360p/index.m3u8\n",
		v.HLSPrefix() + "360p/index.m3u8":   "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n",
		v.HLSPrefix() + "360p/seg_00000.ts": "segment bytes",
		v.HLSPrefix() + "360p/init.mp4":     "init bytes",
		v.StoryboardVTTKey():                "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nstoryboard.jpg#xywh=0,0,160,90\n",
		v.StoryboardSpriteKey():             "jpeg bytes",
		v.PosterKey():                       "poster bytes",
		// A playlist that names something outside its video, as a
		// tampered bucket could hold.
		v.HLSPrefix() + "evil/index.m3u8": "#EXTM3U\n#EXTINF:4.0,\n../../../8/source\n",
	}
	for key, body := range files {
		if err := blobs.Put(context.Background(), key, strings.NewReader(body), int64(len(body)), edustream.BlobMeta{ContentType: "application/octet-stream"}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// uris returns the non-tag lines of a playlist.
func uris(body string) []string {
	var out []string
	for line := range strings.Lines(body) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// The objects a playlist names are private: each answer says so, and stays
// fresh only until the playback URL expires, not for the year the outputs
// never change in (issue 13).
func TestPlaybackObjectsArePrivate(t *testing.T) {
	t.Parallel()
	p := setupPlayback(t)
	master, err := p.playback.PlaybackURL(context.Background(), p.video)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := get(t, master)
	_, media, _ := get(t, uris(body)[0])
	segment := uris(media)[0]
	u, err := url.Parse(master)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := strconv.ParseInt(u.Query().Get("exp"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, later := range []time.Duration{0, 30 * time.Minute} {
		p.now.Add(int64(later / time.Second))
		code, _, h := get(t, segment)
		want := fmt.Sprintf("private, max-age=%d", exp-p.now.Load())
		if code != http.StatusOK || h.Get("Cache-Control") != want {
			t.Errorf("segment %v later: %d, Cache-Control %q, want %q", later, code, h.Get("Cache-Control"), want)
		}
	}
}

// A signed playback URL opens the whole stream, every playlist rewritten so
// that every URI in it works, and nothing is cached that holds them.
func TestPlaybackServesTheWholeStream(t *testing.T) {
	t.Parallel()
	p := setupPlayback(t)
	master, err := p.playback.PlaybackURL(context.Background(), p.video)
	if err != nil {
		t.Fatal(err)
	}
	code, body, h := get(t, master)
	if code != http.StatusOK || h.Get("Content-Type") != "application/vnd.apple.mpegurl" || h.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("master: %d %v\n%s", code, h, body)
	}
	variants := uris(body)
	if len(variants) != 1 || !strings.HasPrefix(variants[0], p.url+"/play/7/360p/index.m3u8?exp=") {
		t.Fatalf("master's variants = %v", variants)
	}
	code, media, _ := get(t, variants[0])
	if code != http.StatusOK {
		t.Fatalf("variant playlist: %d %s", code, media)
	}
	segments := uris(media)
	if len(segments) != 1 || !strings.HasPrefix(segments[0], p.url+"/blobs/videos/7/hls/360p/seg_00000.ts?") {
		t.Fatalf("segments = %v", segments)
	}
	if code, b, _ := get(t, segments[0]); code != http.StatusOK || b != "segment bytes" {
		t.Errorf("segment: %d %q", code, b)
	}
	// URI attributes of tags are signed too.
	start := strings.Index(media, `URI="`) + len(`URI="`)
	initURL := media[start : start+strings.Index(media[start:], `"`)]
	if code, b, _ := get(t, initURL); code != http.StatusOK || b != "init bytes" {
		t.Errorf("EXT-X-MAP URI %s: %d %q", initURL, code, b)
	}

	vtt, err := p.playback.StoryboardURL(context.Background(), p.video)
	if err != nil {
		t.Fatal(err)
	}
	code, body, h = get(t, vtt)
	sprite := uris(strings.ReplaceAll(body, "WEBVTT", "#"))
	if code != http.StatusOK || h.Get("Content-Type") != "text/vtt; charset=utf-8" || len(sprite) != 2 {
		t.Fatalf("storyboard: %d %v\n%s", code, h, body)
	}
	spriteURL, fragment, _ := strings.Cut(sprite[1], "#")
	if fragment != "xywh=0,0,160,90" {
		t.Errorf("the cue lost its fragment: %q", sprite[1])
	}
	if code, b, _ := get(t, spriteURL); code != http.StatusOK || b != "jpeg bytes" {
		t.Errorf("sprite: %d %q", code, b)
	}
	poster, err := p.playback.ThumbnailURL(context.Background(), p.video)
	if err != nil {
		t.Fatal(err)
	}
	if code, b, _ := get(t, poster); code != http.StatusOK || b != "poster bytes" {
		t.Errorf("poster: %d %q", code, b)
	}
}

func TestPlaybackRefusals(t *testing.T) {
	t.Parallel()
	p := setupPlayback(t)
	master, _ := p.playback.PlaybackURL(context.Background(), p.video)
	base, query, _ := strings.Cut(master, "?")
	tests := []struct {
		name string
		url  string
		want int
	}{
		{"junk after the signature", master + "00", http.StatusForbidden},
		{"another signature", strings.Replace(master, "sig=", "sig=00", 1), http.StatusForbidden},
		{"no signature", base, http.StatusForbidden},
		{"a later expiry", strings.Replace(master, "exp=", "exp=9", 1), http.StatusForbidden},
		{"another video", strings.Replace(master, "/play/7/", "/play/8/", 1), http.StatusForbidden},
		{"climbing out to another video", p.url + "/play/7/../8/master.m3u8?" + query, http.StatusForbidden},
		{"an encoded climb", p.url + "/play/7/360p%2F..%2F..%2Fsource?" + query, http.StatusNotFound},
		{"a segment through /play/", p.url + "/play/7/360p/seg_00000.ts?" + query, http.StatusNotFound},
		{"a missing playlist", p.url + "/play/7/1080p/index.m3u8?" + query, http.StatusNotFound},
		{"a playlist naming another video", p.url + "/play/7/evil/index.m3u8?" + query, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := get(t, tt.url)
			if code != tt.want || strings.Contains(body, "videos/8") {
				t.Errorf("GET %s = %d %q, want %d", tt.url, code, body, tt.want)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		p.now.Add(int64(2 * time.Hour / time.Second))
		if code, body, _ := get(t, master); code != http.StatusForbidden || !strings.Contains(body, "expired") {
			t.Errorf("an expired URL = %d %q, want 403 saying it expired", code, body)
		}
	})
	t.Run("POST", func(t *testing.T) {
		resp, err := http.Post(master, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST = %d, want 405", resp.StatusCode)
		}
	})
}

func TestNewPlaybackRefusesBadConfig(t *testing.T) {
	t.Parallel()
	blobs, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: "http://x.test", SigningKey: bytes.Repeat([]byte("b"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]server.PlaybackConfig{
		"short key":    {BaseURL: "http://x.test", Key: []byte("short"), Blobs: blobs},
		"no store":     {BaseURL: "http://x.test", Key: bytes.Repeat([]byte("p"), 32)},
		"relative URL": {BaseURL: "/api", Key: bytes.Repeat([]byte("p"), 32), Blobs: blobs},
	} {
		if _, err := server.NewPlayback(cfg); err == nil {
			t.Errorf("%s: NewPlayback accepted it", name)
		}
	}
}

// A store that fails (here an S3 endpoint whose bucket refuses every
// read) is a 503 the player may retry, with the cause in the log and not
// in the answer.
func TestPlaybackStorageFailure(t *testing.T) {
	t.Parallel()
	s3srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && r.URL.Path == "/videos" {
			return // the bucket exists
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>R1</RequestId></Error>`)
	}))
	t.Cleanup(s3srv.Close)
	blobs, err := s3.New(context.Background(), s3.Config{Bucket: "videos", Endpoint: s3srv.URL, PathStyle: true, Region: "us-east-1", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	playback, err := server.NewPlayback(server.PlaybackConfig{BaseURL: "https://api.example.test", Key: bytes.Repeat([]byte("p"), 32), TTL: time.Hour, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	master, err := playback.PlaybackURL(context.Background(), &edustream.Video{ID: 7, Status: edustream.VideoReady})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, master, nil)
	r = r.WithContext(edustream.NewContextWithLogger(r.Context(), slog.New(slog.NewJSONHandler(logs, nil))))
	w := httptest.NewRecorder()
	playback.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "AccessDenied") {
		t.Errorf("GET = %d %q, want 503 without the cause", w.Code, w.Body)
	}
	if lines := logs.Records(t, "read a playlist"); len(lines) != 1 || !strings.Contains(lines[0]["error"].(string), "AccessDenied") {
		t.Errorf("logged %v, want the cause", lines)
	}
}
