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
	bar := newByteBar(stdout, st.Size())
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

// follow prints the lecture's encoding events until the video is READY or
// FAILED.
func (c *apiClient) follow(ctx context.Context, lectureID, videoID string, stdout io.Writer) error {
	wsURL := "ws" + strings.TrimPrefix(c.base, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return fmt.Errorf("follow the encoding: %w", err)
	}
	defer conn.CloseNow()
	send := func(m map[string]any) error {
		b, _ := json.Marshal(m)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + c.token}}); err != nil {
		return err
	}
	if err := send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($l: ID!) { encodingProgress(lectureId: $l) { videoId status stage progress message etaSeconds queuePosition } }`,
		"variables": map[string]any{"l": lectureID},
	}}); err != nil {
		return err
	}
	var lastLine string
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("follow the encoding: %w", err)
		}
		var m struct {
			Type    string
			Payload json.RawMessage
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("follow the encoding: %w", err)
		}
		switch m.Type {
		case "ping":
			_ = send(map[string]any{"type": "pong"})
		case "error":
			return fmt.Errorf("follow the encoding: %s", m.Payload)
		case "complete":
			return errors.New("follow the encoding: the server ended the subscription")
		case "next":
			var p struct {
				Data struct {
					EncodingProgress struct {
						VideoID       *string
						Status, Stage string
						Progress      float64
						Message       *string
						ETASeconds    *int
						QueuePosition *int
					}
				}
				Errors []struct{ Message string }
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				return err
			}
			if len(p.Errors) > 0 {
				return fmt.Errorf("follow the encoding: %s", p.Errors[0].Message)
			}
			e := p.Data.EncodingProgress
			if e.VideoID == nil || *e.VideoID != videoID {
				continue // an older video's state, before ours shows
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
			if line != lastLine {
				fmt.Fprintln(stdout, line)
				lastLine = line
			}
			switch e.Status {
			case "READY":
				fmt.Fprintf(stdout, "video %s is ready\n", videoID)
				return conn.Close(websocket.StatusNormalClosure, "")
			case "FAILED":
				reason := "no reason given"
				if e.Message != nil {
					reason = *e.Message
				}
				return fmt.Errorf("video %s failed: %s", videoID, reason)
			}
		}
	}
}

// byteBar draws the upload's progress on one line.
type byteBar struct {
	w         io.Writer
	total     int64
	sent      int64
	start     time.Time
	lastDrawn time.Time
}

func newByteBar(w io.Writer, total int64) *byteBar {
	return &byteBar{w: w, total: total, start: time.Now()}
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
	if time.Since(b.lastDrawn) < 200*time.Millisecond || b.sent >= b.total {
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
	rate := float64(b.sent) / max(time.Since(b.start).Seconds(), 0.001)
	fmt.Fprintf(b.w, "\r[%s%s] %5.1f %%  %s / %s  %s/s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, edustream.FormatBytes(b.sent), edustream.FormatBytes(b.total), edustream.FormatBytes(int64(rate)))
}

func (b *byteBar) done() {
	b.draw()
	fmt.Fprintln(b.w)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
