package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/cloudfront"
	"github.com/edustream/edustream/cloudfront/cloudfronttest"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/local"
)

const cdnKeyID = "K2JCJMDEHXQW5F"

// cdnPlayback is a Playback on a local store holding video 12's stream,
// with CloudFront in front.
func cdnPlayback(t *testing.T, now time.Time) (*server.Playback, *rsa.PublicKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cdn, err := cloudfront.New(cloudfront.Config{
		Domain: "d111111abcdef8.cloudfront.net", KeyID: cdnKeyID,
		PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: "https://api.example.test", SigningKey: bytes.Repeat([]byte("s"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	v := &edustream.Video{ID: 12}
	for k, body := range map[string]string{
		v.MasterPlaylistKey():              "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=3162000,RESOLUTION=1280x720\nmaster_720p.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360\nmaster_360p.m3u8\n",
		v.HLSPrefix() + "master_720p.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nmaster_720p_00001.ts\n#EXTINF:4.0,\nmaster_720p_00002.ts\n#EXT-X-ENDLIST\n",
		v.StoryboardVTTKey():               "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstoryboard.jpg#xywh=0,0,160,90\n\n00:00:01.000 --> 00:00:02.000\nstoryboard.jpg#xywh=160,0,160,90\n",
	} {
		if err := blobs.Put(context.Background(), k, strings.NewReader(body), int64(len(body)), edustream.BlobMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := server.NewPlayback(server.PlaybackConfig{
		BaseURL: "https://api.example.test", Key: bytes.Repeat([]byte("k"), 32), TTL: 6 * time.Hour,
		Blobs: blobs, CDN: cdn, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, &key.PublicKey
}

// viaCDN fetches a CDN URL of the /play/ route as CloudFront's origin
// request would reach the API: the same path and query.
func viaCDN(t *testing.T, h http.Handler, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "d111111abcdef8.cloudfront.net" || !strings.HasPrefix(u.Path, "/play/") {
		t.Fatalf("%s is not a playlist on the CDN", rawURL)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u.RequestURI(), w.Code, w.Body)
	}
	return w.Body.String()
}

// cdnURIs returns the URI lines of a playlist or track.
func cdnURIs(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "https://") {
			out = append(out, line)
		}
	}
	return out
}

// With CloudFront, every URL a player gets is CloudFront's, signed with the
// key the public key verifies, expiring with the playback URL.
func TestPlaybackThroughCloudFront(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 10, 0, 30, 0, time.UTC)
	p, pub := cdnPlayback(t, now)
	ctx := context.Background()
	v := &edustream.Video{ID: 12}
	// The same expiry as without a CDN: the TTL, rounded up to the minute.
	wantExp := time.Date(2026, 11, 20, 16, 1, 0, 0, time.UTC)

	verify := func(t *testing.T, u string) {
		t.Helper()
		exp, err := cloudfronttest.Verify(pub, cdnKeyID, u, now)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if !exp.Equal(wantExp) {
			t.Errorf("%s expires %s, want %s", u, exp, wantExp)
		}
	}
	playback, err := p.PlaybackURL(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, playback)
	if !strings.HasPrefix(playback, "https://d111111abcdef8.cloudfront.net/play/12/master.m3u8?exp=") {
		t.Errorf("playback URL %s", playback)
	}

	master := cdnURIs(viaCDN(t, p, playback))
	if len(master) != 2 {
		t.Fatalf("master names %v", master)
	}
	for _, u := range master {
		verify(t, u)
	}
	segments := cdnURIs(viaCDN(t, p, master[0]))
	if len(segments) != 2 {
		t.Fatalf("media playlist names %v", segments)
	}
	for _, u := range segments {
		verify(t, u)
		if !strings.HasPrefix(u, "https://d111111abcdef8.cloudfront.net/videos/12/hls/master_720p_0000") {
			t.Errorf("segment URL %s is not the object on the CDN", u)
		}
	}
	// The segments' signature opens the stream, not the rest of the video.
	_, query, _ := strings.Cut(segments[0], "?")
	for _, key := range []string{"videos/12/source", "videos/13/hls/master_720p_00001.ts"} {
		if _, err := cloudfronttest.Verify(pub, cdnKeyID, "https://d111111abcdef8.cloudfront.net/"+key+"?"+query, now); err == nil {
			t.Errorf("the segments' signature opens %s", key)
		}
	}

	storyboard, err := p.StoryboardURL(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, storyboard)
	body := viaCDN(t, p, storyboard)
	sprites := strings.Count(body, "https://d111111abcdef8.cloudfront.net/videos/12/storyboard.jpg?Expires=")
	if sprites != 2 {
		t.Errorf("track:\n%s\nwant both cues on the CDN's sprite", body)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "https://") {
			u, _, _ := strings.Cut(line, "#")
			verify(t, u)
		}
	}
	thumb, err := p.ThumbnailURL(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, thumb)
	if !strings.HasPrefix(thumb, "https://d111111abcdef8.cloudfront.net/videos/12/poster.jpg?") {
		t.Errorf("thumbnail URL %s", thumb)
	}

	// CloudFront's signature does not replace the API's: a playlist
	// request with a forged expiry is refused at the origin too.
	forged := strings.Replace(playback, "exp=", "exp=9", 1)
	u, _ := url.Parse(forged)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
	if w.Code != http.StatusForbidden {
		t.Errorf("forged expiry: %d, want 403", w.Code)
	}
}

// /sns and /webhooks/webex are mounted outside the API's auth and CORS:
// SNS and Webex present no token, and their handlers check every message
// themselves. Unconfigured, they do not exist.
func TestServerToServerRoutes(t *testing.T) {
	t.Parallel()
	for _, route := range []string{"/sns", "/webhooks/webex"} {
		t.Run(route, func(t *testing.T) {
			var got []string
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = append(got, r.Method+" "+r.URL.Path)
				w.WriteHeader(http.StatusNoContent)
			})
			cfg := server.Config{CORSOrigins: []string{"https://app.example.test"}}
			unmounted := server.New(cfg)
			if route == "/sns" {
				cfg.SNS = handler
			} else {
				cfg.WebexWebhook = handler
			}
			h := server.New(cfg)
			for _, method := range []string{http.MethodPost, http.MethodGet} {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(method, route, strings.NewReader("{}"))
				r.Header.Set("Authorization", "Bearer not-a-token")
				r.Header.Set("Origin", "https://app.example.test")
				h.ServeHTTP(w, r)
				if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("%s %s: %d %v, want the handler's answer without CORS", method, route, w.Code, w.Header())
				}
			}
			if len(got) != 2 {
				t.Errorf("the handler saw %v", got)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, route+"/x", nil))
			if w.Code != http.StatusNotFound || len(got) != 2 {
				t.Errorf("POST %s/x: %d, and the handler saw %v; want 404 before it", route, w.Code, got)
			}
			w = httptest.NewRecorder()
			unmounted.ServeHTTP(w, httptest.NewRequest(http.MethodPost, route, strings.NewReader("{}")))
			if w.Code != http.StatusNotFound {
				t.Errorf("POST %s unconfigured: %d, want 404", route, w.Code)
			}
		})
	}
}
