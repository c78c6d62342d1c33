// Package openai is a speech-to-text engine (edustream.SpeechToText) on
// any OpenAI-compatible transcription endpoint: OpenAI's own, whisper.cpp's
// server (with --inference-path /v1/audio/transcriptions) and the
// faster-whisper servers. One multipart POST to <base>/audio/transcriptions
// with the audio, the model, the language and response_format=vtt; the
// answer is the WebVTT.
package openai

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// Defaults of Config.
const (
	DefaultBaseURL = "https://api.openai.com/v1"
	DefaultModel   = "whisper-1"
	// DefaultMaxFileBytes is OpenAI's limit on the uploaded file: about
	// 1 h 40 of speech as 16 kHz FLAC. Self-hosted servers take more.
	DefaultMaxFileBytes = 25 << 20
	// DefaultTimeout bounds one request: a whisper server on a CPU takes
	// about as long as the audio lasts.
	DefaultTimeout = 2 * time.Hour
	// maxAnswerBytes bounds the WebVTT read back: far more than the
	// captions service takes.
	maxAnswerBytes = 16 << 20
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API's base, with its /v1 ("http://whisper:8080/v1");
	// empty: DefaultBaseURL.
	BaseURL string
	// APIKey is sent as a bearer token; empty: none (a local server).
	APIKey string
	// Model is the model asked for; empty: DefaultModel.
	Model string
	// MaxFileBytes refuses a larger audio file before it is sent (0:
	// DefaultMaxFileBytes).
	MaxFileBytes int64
	// HTTPClient is the client (nil: one with DefaultTimeout).
	HTTPClient *http.Client
}

// Client calls the transcription endpoint. It is safe for concurrent use.
type Client struct {
	endpoint string
	host     string
	cfg      Config
}

var _ edustream.SpeechToText = (*Client)(nil)

// New returns a Client for cfg; an error for a base URL that is not http
// or https.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(cmp.Or(cfg.BaseURL, DefaultBaseURL))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("openai transcription: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	cfg.Model = cmp.Or(cfg.Model, DefaultModel)
	cfg.MaxFileBytes = cmp.Or(cfg.MaxFileBytes, DefaultMaxFileBytes)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{endpoint: strings.TrimRight(base.String(), "/") + "/audio/transcriptions", host: base.Host, cfg: cfg}, nil
}

// Name implements edustream.SpeechToText.
func (c *Client) Name() string { return "the transcription service at " + c.host }

// Transcribe implements edustream.SpeechToText.
func (c *Client) Transcribe(ctx context.Context, path, language string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("transcribe: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("transcribe: %w", err)
	}
	if st.Size() > c.cfg.MaxFileBytes {
		return nil, edustream.Errorf(edustream.EINVALID, "the audio is %s, more than the %s the service takes",
			edustream.FormatBytes(st.Size()), edustream.FormatBytes(c.cfg.MaxFileBytes))
	}
	// The body is built in memory: it is at most MaxFileBytes, and a
	// retry of the request (a redirect) needs it again.
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	part, err := form.CreateFormFile("file", filepath.Base(path))
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(part, f); err != nil {
		return nil, fmt.Errorf("transcribe: read the audio: %w", err)
	}
	// OpenAI takes ISO 639-1 languages: the BCP 47 tag's first subtag.
	lang, _, _ := strings.Cut(language, "-")
	for _, field := range [][2]string{{"model", c.cfg.Model}, {"response_format", "vtt"}, {"language", strings.ToLower(lang)}} {
		if err := form.WriteField(field[0], field[1]); err != nil {
			return nil, err
		}
	}
	if err := form.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", form.FormDataContentType())
	req.Header.Set("Accept", "text/vtt, application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("transcribe at %s: %w", c.host, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("transcribe at %s: read the answer: %w", c.host, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp.StatusCode, answer)
	}
	if len(answer) > maxAnswerBytes {
		return nil, edustream.Errorf(edustream.EINVALID, "the service answered with more than %s of captions", edustream.FormatBytes(maxAnswerBytes))
	}
	vtt := bytes.TrimPrefix(answer, []byte("\uFEFF"))
	if !bytes.HasPrefix(vtt, []byte("WEBVTT")) {
		return nil, edustream.Errorf(edustream.EINVALID, "the service answered with something that is not WebVTT (%q)", short(string(vtt), 40))
	}
	return vtt, nil
}

// statusError is what an answer other than 200 means. The request's own
// faults (400, 413, 415, 422) and a refused key (401, 403) are EINVALID:
// sending the same again cannot succeed. Throttling (429) and the
// service's own faults (5xx) may pass: a plain error, retried.
func statusError(status int, body []byte) error {
	msg := apiMessage(body)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return edustream.Errorf(edustream.EINVALID, "the service refused EduStream's API key (HTTP %d: %s)", status, msg)
	case status == http.StatusTooManyRequests || status >= 500:
		return fmt.Errorf("the service answered HTTP %d: %s", status, msg)
	case status >= 400:
		return edustream.Errorf(edustream.EINVALID, "the service refused the audio (HTTP %d: %s)", status, msg)
	}
	return fmt.Errorf("the service answered HTTP %d: %s", status, msg)
}

// apiMessage is the error's message in OpenAI's shape
// ({"error": {"message": …}}), or the start of the body.
func apiMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return short(e.Error.Message, 200)
	}
	if s := strings.TrimSpace(string(body)); s != "" {
		return short(s, 200)
	}
	return "no message"
}

// short cuts s to n runes of valid UTF-8, for messages made from what a
// service sent.
func short(s string, n int) string {
	r := []rune(strings.ToValidUTF8(s, "?"))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}
