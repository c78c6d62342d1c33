package openai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/speech/openai"
)

// fakeService follows OpenAI's API reference for "Create transcription":
// POST /v1/audio/transcriptions, multipart/form-data with file, model,
// language and response_format; a bearer key; errors as
// {"error": {"message", "type", "param", "code"}} with their status.
type fakeService struct {
	t   *testing.T
	srv *httptest.Server
	// key is the bearer key it wants ("" takes none, as a local server).
	key string
	// answer answers a request the fake accepted.
	answer func(w http.ResponseWriter)

	mu       sync.Mutex
	requests []fakeRequest
}

type fakeRequest struct {
	auth                    string
	model, language, format string
	fileName                string
	file                    []byte
}

const vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHash tables store keys.\n"

func newFake(t *testing.T, key string) *fakeService {
	f := &fakeService{t: t, key: key, answer: func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/vtt; charset=utf-8")
		io.WriteString(w, vtt)
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/audio/transcriptions", f.transcribe)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func apiError(w http.ResponseWriter, status int, typ, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": message, "type": typ, "param": nil, "code": nil}})
}

func (f *fakeService) transcribe(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if f.key != "" && auth != "Bearer "+f.key {
		apiError(w, http.StatusUnauthorized, "invalid_request_error", "Incorrect API key provided.")
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "Could not parse multipart form")
		return
	}
	file, header, err := r.FormFile("file")
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "you must provide a file")
		return
	}
	data, _ := io.ReadAll(file)
	req := fakeRequest{auth: auth, model: r.FormValue("model"), language: r.FormValue("language"),
		format: r.FormValue("response_format"), fileName: header.Filename, file: data}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	switch {
	case req.model == "":
		apiError(w, http.StatusBadRequest, "invalid_request_error", "you must provide a model parameter")
		return
	case !strings.Contains(" json text srt verbose_json vtt ", " "+req.format+" "):
		apiError(w, http.StatusBadRequest, "invalid_request_error", "invalid response_format")
		return
	}
	f.answer(w)
}

func (f *fakeService) last() fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		f.t.Fatal("the service got no request")
	}
	return f.requests[len(f.requests)-1]
}

func audioFile(t *testing.T, size int) (string, []byte) {
	data := bytes.Repeat([]byte("fLaC"), size/4)
	path := filepath.Join(t.TempDir(), edustream.SpeechAudioName)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestTranscribe(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "sk-test")
	c, err := openai.New(openai.Config{BaseURL: fake.srv.URL + "/v1/", APIKey: "sk-test", Model: "Systran/faster-whisper-small"})
	if err != nil {
		t.Fatal(err)
	}
	path, data := audioFile(t, 4096)
	got, err := c.Transcribe(context.Background(), path, "en-GB")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != vtt {
		t.Errorf("track = %q, want %q", got, vtt)
	}
	req := fake.last()
	if req.model != "Systran/faster-whisper-small" || req.language != "en" || req.format != "vtt" ||
		req.fileName != edustream.SpeechAudioName || !bytes.Equal(req.file, data) {
		t.Errorf("request = model %q language %q format %q file %q (%d bytes); want the model, en, vtt and the audio",
			req.model, req.language, req.format, req.fileName, len(req.file))
	}
	if !strings.Contains(c.Name(), "127.0.0.1") {
		t.Errorf("Name() = %q, want the host", c.Name())
	}
}

func TestTranscribeWithoutKey(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "")
	c, err := openai.New(openai.Config{BaseURL: fake.srv.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	path, _ := audioFile(t, 64)
	if _, err := c.Transcribe(context.Background(), path, "en"); err != nil {
		t.Fatal(err)
	}
	if req := fake.last(); req.auth != "" || req.model != openai.DefaultModel {
		t.Errorf("auth %q, model %q; want no Authorization and the default model", req.auth, req.model)
	}
}

// TestTranscribeFailures: what cannot succeed again is EINVALID with the
// service's message; what may pass (throttling, the service's faults,
// timeouts) is a plain error, which the captions step retries.
func TestTranscribeFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		key     string
		answer  func(w http.ResponseWriter)
		code    string
		message string
	}{
		{name: "wrong key", key: "sk-wrong", code: edustream.EINVALID, message: "refused EduStream's API key (HTTP 401: Incorrect API key provided.)"},
		{name: "bad request", answer: func(w http.ResponseWriter) {
			apiError(w, http.StatusBadRequest, "invalid_request_error", "Audio file might be corrupted or unsupported")
		}, code: edustream.EINVALID, message: "refused the audio (HTTP 400: Audio file might be corrupted or unsupported)"},
		{name: "too large", answer: func(w http.ResponseWriter) {
			apiError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "Maximum content size limit (26214400) exceeded")
		}, code: edustream.EINVALID, message: "HTTP 413"},
		{name: "throttled", answer: func(w http.ResponseWriter) {
			apiError(w, http.StatusTooManyRequests, "requests", "Rate limit reached for requests")
		}, code: edustream.EINTERNAL, message: "HTTP 429: Rate limit reached"},
		{name: "server error", answer: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>bad gateway</html>")
		}, code: edustream.EINTERNAL, message: "HTTP 502: <html>bad gateway</html>"},
		{name: "garbage", answer: func(w http.ResponseWriter) {
			io.WriteString(w, `{"text": "hash tables"}`)
		}, code: edustream.EINVALID, message: "not WebVTT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, "sk-test")
			if tc.answer != nil {
				fake.answer = tc.answer
			}
			c, err := openai.New(openai.Config{BaseURL: fake.srv.URL + "/v1", APIKey: tc.key})
			if tc.key == "" {
				c, err = openai.New(openai.Config{BaseURL: fake.srv.URL + "/v1", APIKey: "sk-test"})
			}
			if err != nil {
				t.Fatal(err)
			}
			path, _ := audioFile(t, 64)
			_, err = c.Transcribe(context.Background(), path, "en")
			wantError(t, err, tc.code, tc.message)
		})
	}
}

func wantError(t *testing.T, err error, code, message string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("no error, want %s %q", code, message)
	case edustream.ErrorCode(err) != code:
		t.Fatalf("code %s (%v), want %s", edustream.ErrorCode(err), err, code)
	case code == edustream.EINVALID && !strings.Contains(edustream.ErrorMessage(err), message),
		code != edustream.EINVALID && !strings.Contains(err.Error(), message):
		t.Fatalf("error %q, want it to contain %q", err, message)
	}
}

func TestTranscribeTimeout(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	fake.answer = func(w http.ResponseWriter) { <-release }
	c, err := openai.New(openai.Config{BaseURL: fake.srv.URL + "/v1", HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	path, _ := audioFile(t, 64)
	_, err = c.Transcribe(context.Background(), path, "en")
	wantError(t, err, edustream.EINTERNAL, "Client.Timeout")
}

func TestTranscribeRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "")
	c, err := openai.New(openai.Config{BaseURL: fake.srv.URL + "/v1", MaxFileBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	path, _ := audioFile(t, 2000)
	_, err = c.Transcribe(context.Background(), path, "en")
	wantError(t, err, edustream.EINVALID, "more than the 1000 B the service takes")
	if len(fake.requests) != 0 {
		t.Errorf("the audio was sent anyway")
	}
	for _, base := range []string{"ftp://whisper/v1", "whisper:8080", "http://"} {
		if _, err := openai.New(openai.Config{BaseURL: base}); err == nil {
			t.Errorf("New(%q) accepted it", base)
		}
	}
}
