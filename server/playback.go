package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// Playback serves HLS through the API and signs the URLs that lead to it.
//
// A player needs every playlist and segment of a stream, but the outputs are
// private. So the playback URL is the API's own
// /play/<video id>/master.m3u8, signed with an expiry; the handler reads each
// playlist from the blob store and rewrites the URIs inside: those of
// other playlists to /play/ URLs carrying the same signature, those of
// segments (and images) to the blob store's presigned URLs, which the client
// fetches straight from S3 (or the CDN, or the local store's /blobs/). The
// signature covers the video and the expiry, so one playback URL opens the
// whole stream until it expires, and nothing else.
type Playback struct {
	cfg PlaybackConfig
}

var _ edustream.PlaybackURLs = (*Playback)(nil)

// PlaybackConfig configures Playback.
type PlaybackConfig struct {
	// BaseURL is where clients reach the API, e.g. https://api.example.com.
	BaseURL string
	// Key signs the URLs: at least 32 bytes, the same on every instance.
	Key []byte
	// TTL is how long a URL plays (0: DefaultPlaybackTTL). It should cover
	// the longest lecture: a player fetches a VOD playlist once, and the
	// segment URLs in it must still work at the end.
	TTL   time.Duration
	Blobs edustream.BlobStore
	// CDN, if set, is where players fetch everything: the playlists (from
	// this handler, through the CDN) and the objects, with the CDN's own
	// signed URLs of the same expiry (see CDN).
	CDN CDN
	// Now is the clock (nil: time.Now).
	Now edustream.Clock
	// Captions, if set, are the tracks the master playlist lists (see
	// withSubtitles).
	Captions edustream.CaptionService
}

// DefaultPlaybackTTL covers a 4-hour lecture with room to pause.
const DefaultPlaybackTTL = 6 * time.Hour

// playPrefix is the route Playback serves.
const playPrefix = "/play/"

// NewPlayback returns a Playback. The key must be at least 32 bytes.
func NewPlayback(cfg PlaybackConfig) (*Playback, error) {
	if len(cfg.Key) < 32 {
		return nil, errors.New("playback: the URL signing key must be at least 32 bytes")
	}
	if cfg.Blobs == nil {
		return nil, errors.New("playback: no blob store")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("playback: base URL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultPlaybackTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Key = append([]byte(nil), cfg.Key...)
	return &Playback{cfg: cfg}, nil
}

// Sign fixes the expiry of v's URLs and computes their signature, which
// the master playlist and the storyboard share; the poster's URL is
// presigned only if asked for.
func (p *Playback) Sign(v *edustream.Video) edustream.SignedVideo {
	exp := p.expiry()
	return &signedVideo{p: p, v: v, exp: exp, sig: p.signature(v.ID, exp)}
}

// PlaybackURL returns the signed URL of v's master playlist.
func (p *Playback) PlaybackURL(_ context.Context, v *edustream.Video) (string, error) {
	return p.Sign(v).PlaybackURL()
}

// StoryboardURL returns the signed URL of v's WebVTT thumbnails track.
func (p *Playback) StoryboardURL(_ context.Context, v *edustream.Video) (string, error) {
	return p.Sign(v).StoryboardURL()
}

// ThumbnailURL returns a presigned URL of v's poster, served by the blob
// store itself (or the CDN).
func (p *Playback) ThumbnailURL(ctx context.Context, v *edustream.Video) (string, error) {
	return p.Sign(v).ThumbnailURL(ctx)
}

// signedVideo is Sign's result: immutable, so the fields of one request
// may read it from their goroutines.
type signedVideo struct {
	p   *Playback
	v   *edustream.Video
	exp int64
	sig string
}

func (s *signedVideo) PlaybackURL() (string, error) {
	return s.p.streamURL(s.v.ID, edustream.MasterPlaylistName, s.exp, s.sig)
}

func (s *signedVideo) StoryboardURL() (string, error) {
	return s.p.streamURL(s.v.ID, edustream.StoryboardVTTFileName, s.exp, s.sig)
}

func (s *signedVideo) ThumbnailURL(ctx context.Context) (string, error) {
	p := s.p
	if p.cfg.CDN != nil {
		return p.cfg.CDN.SignedURL(p.cfg.CDN.URL("/"+s.v.PosterKey()), time.Unix(s.exp, 0))
	}
	return p.cfg.Blobs.PresignGet(ctx, s.v.PosterKey(), p.cfg.TTL)
}

// expiry rounds up to the minute, so the URLs handed out within a minute are
// identical and a CDN or browser cache can reuse the answers.
func (p *Playback) expiry() int64 {
	exp := p.cfg.Now().Add(p.cfg.TTL)
	return exp.Truncate(time.Minute).Add(time.Minute).Unix()
}

// signature is the hex HMAC of a video and an expiry: it opens every
// playlist of the video (and its storyboard) until then.
func (p *Playback) signature(videoID, exp int64) string {
	m := hmac.New(sha256.New, p.cfg.Key)
	msg := make([]byte, 0, 48)
	msg = append(msg, "play\n"...)
	msg = strconv.AppendInt(msg, videoID, 10)
	msg = append(msg, '\n')
	m.Write(strconv.AppendInt(msg, exp, 10))
	return hex.EncodeToString(m.Sum(nil))
}

func (p *Playback) signedPath(videoID int64, name string, exp int64, sig string) string {
	return playPrefix + strconv.FormatInt(videoID, 10) + "/" + name + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + sig
}

// streamURL is the URL a player fetches a playlist (or the storyboard
// track) with: this handler's URL with sig, the signature of the video
// and exp, or that URL on the CDN, signed for the CDN too.
func (p *Playback) streamURL(videoID int64, name string, exp int64, sig string) (string, error) {
	if p.cfg.CDN == nil {
		return p.cfg.BaseURL + p.signedPath(videoID, name, exp, sig), nil
	}
	return p.cfg.CDN.SignedURL(p.cfg.CDN.URL(p.signedPath(videoID, name, exp, sig)), time.Unix(exp, 0))
}

// ServeHTTP answers GET and HEAD of /play/<video id>/<playlist or vtt>.
func (p *Playback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		playbackError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	rest, _ := strings.CutPrefix(r.URL.Path, playPrefix)
	idText, name, ok := strings.Cut(rest, "/")
	videoID, err := strconv.ParseInt(idText, 10, 64)
	captionKey, captionType, isCaption := captionFile(videoID, name)
	if !ok || err != nil || videoID <= 0 || !(validStreamPath(name) || isCaption) {
		playbackError(w, http.StatusNotFound, "not found")
		return
	}
	q := r.URL.Query()
	exp, expErr := strconv.ParseInt(q.Get("exp"), 10, 64)
	// DecodeString returns what it decoded before a bad character: the
	// error must count, or a signature with junk appended would pass.
	sig, sigErr := hex.DecodeString(q.Get("sig"))
	wantHex := p.signature(videoID, exp)
	want, _ := hex.DecodeString(wantHex)
	switch {
	case expErr != nil || sigErr != nil || !hmac.Equal(sig, want):
		playbackError(w, http.StatusForbidden, "the playback URL is not valid")
		return
	case p.cfg.Now().Unix() > exp:
		playbackError(w, http.StatusForbidden, "the playback URL has expired; ask for a new one")
		return
	}

	v := &edustream.Video{ID: videoID}
	key, contentType := v.HLSPrefix()+name, "application/vnd.apple.mpegurl"
	switch {
	case name == edustream.StoryboardVTTFileName:
		key, contentType = v.StoryboardVTTKey(), "text/vtt; charset=utf-8"
	case isCaption:
		key, contentType = captionKey, captionType
	}
	body, err := p.read(r.Context(), key)
	if err == nil && name == edustream.MasterPlaylistName {
		body, err = p.withSubtitles(r.Context(), videoID, body)
	}
	if edustream.ErrorCode(err) == edustream.ENOTFOUND {
		playbackError(w, http.StatusNotFound, "not found")
		return
	} else if err != nil {
		edustream.Logger(r.Context()).ErrorContext(r.Context(), "read a playlist", "key", key, "error", err)
		playbackError(w, http.StatusServiceUnavailable, "storage is unavailable; try again")
		return
	}
	if isCaption && captionType != "application/vnd.apple.mpegurl" {
		// A caption file names nothing to sign: its lines are text.
		writePlayback(w, r, captionType, body)
		return
	}
	dir := path.Dir(key) + "/"
	cdn := &cdnObjects{cdn: p.cfg.CDN, stream: v.HLSPrefix(), exp: time.Unix(exp, 0)}
	out, err := p.rewrite(r.Context(), body, func(uri string) (string, error) {
		target := path.Clean(dir + uri)
		rel, ok := strings.CutPrefix(target, v.HLSPrefix())
		if strings.HasSuffix(uri, ".m3u8") && ok && validStreamPath(rel) {
			return p.streamURL(videoID, rel, exp, wantHex)
		}
		if name, ok := captionPlaylistName(videoID, target); ok {
			return p.streamURL(videoID, name, exp, wantHex)
		}
		if !strings.HasPrefix(target, edustream.VideoPrefix(videoID)) {
			return "", fmt.Errorf("playlist %s names %q outside its video", key, uri)
		}
		if p.cfg.CDN != nil {
			return cdn.url(target)
		}
		// Segments expire with the playback URL, not later.
		ttl := time.Unix(exp, 0).Sub(p.cfg.Now())
		return p.cfg.Blobs.PresignGet(r.Context(), target, max(ttl, time.Second))
	})
	if err != nil {
		edustream.Logger(r.Context()).ErrorContext(r.Context(), "rewrite a playlist", "key", key, "error", err)
		playbackError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writePlayback(w, r, contentType, out)
}

// writePlayback answers with a playlist or a text track.
func writePlayback(w http.ResponseWriter, r *http.Request, contentType string, out []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	// The body holds presigned URLs that expire: no cache may keep it
	// past them, and it belongs to whoever holds this URL.
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Players on the SPA's origin fetch playlists with XHR/fetch.
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(out)
}

// maxPlaylistBytes bounds what is read of one playlist: a 4-hour rendition
// at 4-second segments is about 200 KB.
const maxPlaylistBytes = 8 << 20

func (p *Playback) read(ctx context.Context, key string) ([]byte, error) {
	rc, err := p.cfg.Blobs.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxPlaylistBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPlaylistBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", key, maxPlaylistBytes)
	}
	return b, nil
}

// uriAttribute finds URI="…" in a tag line (EXT-X-MAP, EXT-X-MEDIA,
// EXT-X-I-FRAME-STREAM-INF).
var uriAttribute = regexp.MustCompile(`URI="([^"]*)"`)

// rewrite replaces every URI of an HLS playlist, or the image references of
// a WebVTT thumbnails track (sprite.jpg#xywh=…), with what sign returns.
func (p *Playback) rewrite(_ context.Context, body []byte, sign func(uri string) (string, error)) ([]byte, error) {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var err error
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "", strings.HasPrefix(trimmed, "WEBVTT"), strings.Contains(trimmed, "-->"):
		case strings.HasPrefix(trimmed, "#"):
			line = uriAttribute.ReplaceAllStringFunc(line, func(m string) string {
				uri := uriAttribute.FindStringSubmatch(m)[1]
				signed, e := sign(uri)
				if e != nil {
					err = e
					return m
				}
				return `URI="` + signed + `"`
			})
		default:
			uri, fragment, _ := strings.Cut(trimmed, "#")
			signed, e := sign(uri)
			if e != nil {
				return nil, e
			}
			if fragment != "" {
				signed += "#" + fragment
			}
			line = signed
		}
		if err != nil {
			return nil, err
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes(), sc.Err()
}

// validStreamPath accepts the relative paths of a stream's playlists (and
// the storyboard track): plain names, at most one directory deep, nothing
// that could climb out.
func validStreamPath(p string) bool {
	if p == "" || len(p) > 200 || strings.Contains(p, "..") || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return false
	}
	if strings.Count(p, "/") > 1 {
		return false
	}
	if !strings.HasSuffix(p, ".m3u8") && p != edustream.StoryboardVTTFileName {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func playbackError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
