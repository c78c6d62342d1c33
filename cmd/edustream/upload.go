package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/edustream/edustream"
)

// uploadContentTypes maps file extensions to the media types the API
// accepts; the server decides what the file really is when it probes it.
var uploadContentTypes = map[string]string{
	".mp4":  "video/mp4",
	".m4v":  "video/x-m4v",
	".mov":  "video/quicktime",
	".webm": "video/webm",
	".mkv":  "video/x-matroska",
	".avi":  "video/x-msvideo",
	".mpg":  "video/mpeg",
	".mpeg": "video/mpeg",
}

// runUpload uploads a lecture video through the same presigned flow as the
// SPA, shows the bytes going up, then follows encodingProgress until the
// video is READY (exit 0) or FAILED (an error with the reason).
func runUpload(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("upload", flag.ContinueOnError)
	fs.SetOutput(stdout)
	lecture := fs.String("lecture", "", "id of the lecture the video is for, required")
	baseURL := fs.String("url", firstNonEmpty(getenv("EDUSTREAM_PUBLIC_URL"), "http://127.0.0.1:8080"), "where the API is [EDUSTREAM_PUBLIC_URL]")
	token := fs.String("token", getenv("EDUSTREAM_TOKEN"), "bearer token of the lecture's instructor or an admin [EDUSTREAM_TOKEN]")
	contentType := fs.String("content-type", "", "media type of the file (default: from its extension)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *lecture == "":
		return errors.New("upload: -lecture is required")
	case fs.NArg() != 1:
		return errors.New("upload: give exactly one file: edustream upload -lecture ID FILE")
	case *token == "":
		return errors.New("upload: set -token or EDUSTREAM_TOKEN (edustream token -sub ... -role INSTRUCTOR prints one)")
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if *contentType == "" {
		*contentType = uploadContentTypes[strings.ToLower(filepath.Ext(path))]
		if *contentType == "" {
			return fmt.Errorf("upload: cannot tell the media type of %s; pass -content-type", filepath.Base(path))
		}
	}
	c := &apiClient{base: strings.TrimSuffix(*baseURL, "/"), token: *token, http: &http.Client{Timeout: time.Hour}}

	var created struct {
		CreateVideoUpload struct {
			ID       string
			PartSize int64
			Parts    []struct {
				PartNumber int
				URL        string
			}
		}
	}
	if err := c.graphql(ctx, `mutation($input: CreateVideoUploadInput!) {
  createVideoUpload(input: $input) { id partSize parts { partNumber url } }
}`, map[string]any{"input": map[string]any{
		"lectureId": *lecture, "fileName": filepath.Base(path), "contentType": *contentType, "sizeBytes": st.Size(),
	}}, &created); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	up := created.CreateVideoUpload
	bar := newByteBar(stdout, st.Size(), isTerminal(stdout))
	parts := make([]map[string]any, 0, len(up.Parts))
	for _, p := range up.Parts {
		offset := int64(p.PartNumber-1) * up.PartSize
		etag, err := c.putPart(ctx, p.URL, io.NewSectionReader(f, offset, min(up.PartSize, st.Size()-offset)), bar)
		if err != nil {
			return fmt.Errorf("upload: part %d: %w", p.PartNumber, err)
		}
		parts = append(parts, map[string]any{"partNumber": p.PartNumber, "etag": etag})
	}
	bar.done()

	var completed struct{ CompleteVideoUpload struct{ Status string } }
	if err := c.graphql(ctx, `mutation($input: CompleteVideoUploadInput!) { completeVideoUpload(input: $input) { status } }`,
		map[string]any{"input": map[string]any{"uploadId": up.ID, "parts": parts}}, &completed); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	fmt.Fprintf(stdout, "uploaded; video %s is %s\n", up.ID, completed.CompleteVideoUpload.Status)
	return c.follow(ctx, *lecture, up.ID, stdout)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiClient speaks GraphQL to the API as one user.
type apiClient struct {
	base, token string
	http        *http.Client
}

// graphql runs one operation and decodes its data into out; GraphQL errors
// become a Go error with their messages and codes.
func (c *apiClient) graphql(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/query", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var result struct {
		Data   json.RawMessage
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&result); err != nil {
		return fmt.Errorf("%s answered %s, not GraphQL", c.base, resp.Status)
	}
	if len(result.Errors) > 0 {
		var msgs []string
		for _, e := range result.Errors {
			msgs = append(msgs, fmt.Sprintf("%s (%s)", e.Message, e.Extensions.Code))
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return json.Unmarshal(result.Data, out)
}

// putPart sends one part to its presigned URL and returns the ETag the store
// answered with.
func (c *apiClient) putPart(ctx context.Context, url string, part *io.SectionReader, bar *byteBar) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bar.reader(part))
	if err != nil {
		return "", err
	}
	req.ContentLength = part.Size()
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("the store answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		return "", errors.New("the store answered without an ETag (a browser upload needs the bucket's CORS to expose it)")
	}
	return etag, nil
}

// How follow rides out a lost connection (a server restarting, a deploy)
// or an UNAVAILABLE error: it subscribes again after a wait that doubles
// from followRetryMin to followRetryMax, and gives up when no attempt got
// through for followGiveUp.
const (
	followRetryMin = 250 * time.Millisecond
	followRetryMax = 5 * time.Second
	followGiveUp   = 2 * time.Minute
)

// follow prints the lecture's encoding events until the video is READY or
// FAILED. A lost connection, or an error the server says is worth
// retrying (UNAVAILABLE, a bound reached), subscribes again: the first
// event then is the state as it is, so nothing is missed.
func (c *apiClient) follow(ctx context.Context, lectureID, videoID string, stdout io.Writer) error {
	f := &follower{c: c, lectureID: lectureID, videoID: videoID, out: stdout}
	wait := followRetryMin
	since := time.Now() // of the first attempt since one got through
	for {
		err := f.once(ctx)
		var retry *retryable
		if !errors.As(err, &retry) {
			return err
		}
		if f.acked {
			f.acked, wait, since = false, followRetryMin, time.Now()
		}
		if time.Since(since) > followGiveUp {
			return fmt.Errorf("follow the encoding: no connection for %v: %w", followGiveUp, retry.err)
		}
		fmt.Fprintf(stdout, "%v; subscribing again in %v\n", retry.err, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(2*wait, followRetryMax)
	}
}

// retryable is an error after which follow subscribes again.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// follower is one follow of a lecture's encoding, across connections.
type follower struct {
	c                  *apiClient
	lectureID, videoID string
	out                io.Writer
	lastLine           string
	// acked says the last connection was acknowledged.
	acked bool
}

// once follows over one connection: nil when the video is READY, a
// *retryable for what is worth another subscription, another error for
// what is final.
func (f *follower) once(ctx context.Context) error {
	wsURL := "ws" + strings.TrimPrefix(f.c.base, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &retryable{fmt.Errorf("cannot reach %s: %w", f.c.base, err)}
	}
	defer conn.CloseNow()
	send := func(m map[string]any) error {
		b, _ := json.Marshal(m)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + f.c.token}}); err != nil {
		return &retryable{fmt.Errorf("connection lost: %w", err)}
	}
	if err := send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($l: ID!) { encodingProgress(lectureId: $l) { videoId status stage progress message etaSeconds queuePosition removed } }`,
		"variables": map[string]any{"l": f.lectureID},
	}}); err != nil {
		return &retryable{fmt.Errorf("connection lost: %w", err)}
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return readError(ctx, err)
		}
		var m struct {
			Type    string
			Payload json.RawMessage
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("follow the encoding: %w", err)
		}
		switch m.Type {
		case "connection_ack":
			f.acked = true
		case "ping":
			_ = send(map[string]any{"type": "pong"})
		case "error":
			return subscriptionError(m.Payload)
		case "complete":
			return errors.New("follow the encoding: the server ended the subscription (access to the lecture ended)")
		case "next":
			done, err := f.event(m.Payload)
			if done || err != nil {
				if err == nil {
					err = conn.Close(websocket.StatusNormalClosure, "")
				}
				return err
			}
		}
	}
}

// readError classifies the end of a connection: the server's protocol
// refusals (4400-4499, such as 4403 for a bad token) are final; a bound
// reached (4029) and a connection dropped (a restart) are worth another
// try.
func readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) && ce.Code >= 4400 && ce.Code < 4500 {
		return fmt.Errorf("follow the encoding: the server closed the connection: %d %s", ce.Code, ce.Reason)
	}
	return &retryable{fmt.Errorf("connection lost: %w", err)}
}

// subscriptionError turns an error message into an error: retryable when
// every error in it says so (UNAVAILABLE, LIMIT_EXCEEDED).
func subscriptionError(payload json.RawMessage) error {
	var errs []struct {
		Message    string
		Extensions struct{ Code string }
	}
	_ = json.Unmarshal(payload, &errs)
	retry := len(errs) > 0
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, fmt.Sprintf("%s (%s)", e.Message, e.Extensions.Code))
		retry = retry && (e.Extensions.Code == edustream.PublicUnavailable || e.Extensions.Code == edustream.PublicLimitExceeded)
	}
	if len(msgs) == 0 {
		msgs = append(msgs, string(payload))
	}
	err := errors.New("the server refused the subscription: " + strings.Join(msgs, "; "))
	if retry {
		return &retryable{err}
	}
	return fmt.Errorf("follow the encoding: %w", err)
}

// event prints one encoding event, and says whether the video is READY;
// FAILED, a deleted lecture and errors are errors.
func (f *follower) event(payload json.RawMessage) (ready bool, err error) {
	var p struct {
		Data struct {
			EncodingProgress struct {
				VideoID       *string
				Status, Stage string
				Progress      float64
				Message       *string
				ETASeconds    *int
				QueuePosition *int
				Removed       bool
			}
		}
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return false, err
	}
	if len(p.Errors) > 0 {
		errs, _ := json.Marshal(p.Errors)
		return false, subscriptionError(errs)
	}
	e := p.Data.EncodingProgress
	if e.Removed {
		return false, fmt.Errorf("follow the encoding: %s", orEmpty(e.Message))
	}
	if e.VideoID == nil || *e.VideoID != f.videoID {
		return false, nil // an older video's state, before ours shows
	}
	line := fmt.Sprintf("%-10s %-10s %5.1f %%", e.Status, e.Stage, e.Progress)
	if e.Message != nil && *e.Message != "" {
		line += "  " + *e.Message
	}
	if e.QueuePosition != nil {
		line += fmt.Sprintf("  (%d ahead in the queue)", *e.QueuePosition)
	}
	if e.ETASeconds != nil {
		line += fmt.Sprintf("  (about %ds left)", *e.ETASeconds)
	}
	if line != f.lastLine {
		fmt.Fprintln(f.out, line)
		f.lastLine = line
	}
	switch e.Status {
	case "READY":
		fmt.Fprintf(f.out, "video %s is ready\n", f.videoID)
		return true, nil
	case "FAILED":
		reason := "no reason given"
		if e.Message != nil {
			reason = *e.Message
		}
		return false, fmt.Errorf("video %s failed: %s", f.videoID, reason)
	}
	return false, nil
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// byteBar draws the upload's progress: on one line redrawn with \r when w
// is a terminal, and as plain lines, one per tenth, otherwise (a log, a
// pipe), where \r would pile every redraw into one line.
type byteBar struct {
	w         io.Writer
	tty       bool
	total     int64
	sent      int64
	start     time.Time
	lastDrawn time.Time
	// lastTenth is the last tenth printed as a plain line.
	lastTenth int64
}

func newByteBar(w io.Writer, total int64, tty bool) *byteBar {
	return &byteBar{w: w, tty: tty, total: total, start: time.Now()}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (b *byteBar) reader(r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		n, err := r.Read(p)
		b.add(int64(n))
		return n, err
	})
}

func (b *byteBar) add(n int64) {
	b.sent += n
	// The last draw is done's, so the final line shows the whole run's rate.
	if b.sent >= b.total {
		return
	}
	if !b.tty {
		if tenth := b.sent * 10 / max(b.total, 1); tenth > b.lastTenth {
			b.lastTenth = tenth
			fmt.Fprintln(b.w, "uploading "+b.status())
		}
		return
	}
	if time.Since(b.lastDrawn) < 200*time.Millisecond {
		return
	}
	b.lastDrawn = time.Now()
	b.draw()
}

func (b *byteBar) draw() {
	const width = 30
	frac := 1.0
	if b.total > 0 {
		frac = float64(b.sent) / float64(b.total)
	}
	filled := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), b.status())
}

// status says how much went up, and how fast.
func (b *byteBar) status() string {
	frac := 1.0
	if b.total > 0 {
		frac = float64(b.sent) / float64(b.total)
	}
	rate := float64(b.sent) / max(time.Since(b.start).Seconds(), 0.001)
	return fmt.Sprintf("%5.1f %%  %s / %s  %s/s", frac*100, edustream.FormatBytes(b.sent), edustream.FormatBytes(b.total), edustream.FormatBytes(int64(rate)))
}

func (b *byteBar) done() {
	if !b.tty {
		fmt.Fprintln(b.w, "uploaded "+b.status())
		return
	}
	b.draw()
	fmt.Fprintln(b.w)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
