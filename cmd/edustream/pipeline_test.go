package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/coder/websocket"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
)

// The upload journey of the issue, over HTTP and websockets against the real
// binary: an instructor uploads a 10 s 720p clip with audio through the
// presigned flow, completes it five times at once, and watches it to READY;
// ffprobe validates every rendition through the signed playback URL; only
// those who may watch get URLs. It runs on the local store, and on a real
// S3-compatible server when one is configured (SeaweedFS in CI).
func TestVideoJourney(t *testing.T) {
	t.Parallel()
	testenv.FFmpeg(t)
	clip := sharedClip(t, testenv.Clip{Width: 1280, Height: 720, Seconds: 10, Audio: true})
	t.Run("local store", func(t *testing.T) {
		env, _ := backendEnv(t)
		videoJourney(t, env, clip)
	})
	t.Run("S3", func(t *testing.T) {
		env, _ := backendEnv(t)
		s3 := testenv.S3(t)
		env["EDUSTREAM_S3_BUCKET"] = newBucket(t, s3)
		env["EDUSTREAM_S3_ENDPOINT"] = s3.Endpoint
		env["EDUSTREAM_S3_REGION"] = s3.Region
		env["EDUSTREAM_S3_PATH_STYLE"] = "true"
		env["AWS_ACCESS_KEY_ID"] = s3.AccessKey
		env["AWS_SECRET_ACCESS_KEY"] = s3.SecretKey
		videoJourney(t, env, clip)
	})
}

// newBucket creates a bucket of its own for the test, so the videos of
// parallel runs (their ids all start at 1) never share keys.
func newBucket(t testing.TB, env testenv.S3Env) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "edustream-e2e-" + hex.EncodeToString(b)
	client := awss3.New(awss3.Options{
		Region:       env.Region,
		BaseEndpoint: aws.String(env.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(env.AccessKey, env.SecretKey, ""),
	})
	if _, err := client.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for {
			list, err := client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: &name})
			if err != nil || len(list.Contents) == 0 {
				break
			}
			for _, o := range list.Contents {
				client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &name, Key: o.Key})
			}
		}
		client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &name})
	})
	return name
}

func videoJourney(t testing.TB, env map[string]string, clip string) {
	in := start(t, env, "serve")
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	sam := token(t, testSecret, "sam", edustream.RoleStudent, time.Hour)
	nia := token(t, testSecret, "nia", edustream.RoleStudent, time.Hour)
	courseID, lectureID := in.publishedLecture(t, ada)
	in.graphql(t, sam, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": courseID}).ok(t)

	// Only those who may watch may follow the encoding.
	if _, err := in.subscribe(t, nia, lectureID); err == nil || !strings.Contains(err.Error(), "FORBIDDEN") {
		t.Errorf("a student who is not enrolled follows the encoding: %v", err)
	}
	progress, err := in.subscribe(t, ada, lectureID)
	if err != nil {
		t.Fatal(err)
	}
	if first := progress.next(t); first.Status != "AWAITING_UPLOAD" || first.VideoID != nil {
		t.Errorf("first event before any upload = %+v, want AWAITING_UPLOAD without a video", first)
	}

	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	uploadID, parts := in.uploadParts(t, ada, lectureID, data)

	// Five completions at once: one chain.
	var wg sync.WaitGroup
	results := make([]gqlResponse, 5)
	for i := range results {
		wg.Go(func() {
			results[i] = in.graphqlNoFatal(ada, `mutation($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id status } }`,
				map[string]any{"in": map[string]any{"uploadId": uploadID, "parts": parts}})
		})
	}
	wg.Wait()
	for i, r := range results {
		if len(r.Errors) > 0 || !strings.Contains(r.Raw, `"id":"`+uploadID+`"`) {
			t.Errorf("completion %d: %s", i, r.Raw)
		}
	}

	events := progress.until(t, "READY", 2*time.Minute)
	last := -1.0
	for _, e := range events {
		if e.Progress < last {
			t.Errorf("progress went back from %.1f to %.1f", last, e.Progress)
		}
		last = e.Progress
	}
	if n := countEvents(events, "READY"); n != 1 {
		t.Errorf("READY seen %d times, want once", n)
	}
	if lines := linesWith(in.out.String(), `"task_id":"video:transcode:`+uploadID+`"`); len(lines) != 1 {
		t.Errorf("%d transcode task lines, want 1: five completions must make one chain:\n%s", len(lines), strings.Join(lines, "\n"))
	}

	video := `query($l: ID!) { lecture(id: $l) { video { id status durationSeconds width height renditions { name width height bitrate codecs }
		playbackUrl thumbnailUrl storyboardUrl error } } }`
	vars := map[string]any{"l": lectureID}
	var got struct {
		Lecture struct {
			Video struct {
				ID, Status                               string
				DurationSeconds                          float64
				Width, Height                            int
				Renditions                               []edustream.Rendition
				PlaybackURL, ThumbnailURL, StoryboardURL *string
			}
		}
	}
	decode(t, in.graphql(t, ada, video, vars).ok(t), &got)
	v := got.Lecture.Video
	if v.Status != "READY" || v.Width != 1280 || v.Height != 720 || v.DurationSeconds < 9.5 || v.DurationSeconds > 10.5 {
		t.Errorf("video = %+v", v)
	}
	var ladder []string
	for _, r := range v.Renditions {
		ladder = append(ladder, fmt.Sprintf("%s %dx%d", r.Name, r.Width, r.Height))
	}
	if want := []string{"720p 1280x720", "480p 854x480", "360p 640x360"}; !slices.Equal(ladder, want) {
		t.Errorf("ladder %v, want %v", ladder, want)
	}
	if v.PlaybackURL == nil || v.ThumbnailURL == nil || v.StoryboardURL == nil {
		t.Fatalf("the instructor gets no URLs: %+v", v)
	}
	checkStream(t, *v.PlaybackURL, v.Renditions)
	for _, u := range []string{*v.ThumbnailURL, *v.StoryboardURL} {
		if code := httpStatus(t, u); code != http.StatusOK {
			t.Errorf("GET %s = %d", u, code)
		}
	}
	tampered := *v.PlaybackURL + "0"
	if code := httpStatus(t, tampered); code != http.StatusForbidden {
		t.Errorf("tampered playback URL = %d, want 403", code)
	}
	otherVideo := regexp.MustCompile(`/play/\d+/`).ReplaceAllString(*v.PlaybackURL, "/play/999/")
	if code := httpStatus(t, otherVideo); code != http.StatusForbidden {
		t.Errorf("the signature opened another video: %d, want 403", code)
	}

	// Who gets the URLs: the enrolled student, not the other one nor an
	// anonymous caller, though all of them see the lecture and its status.
	for name, tok := range map[string]string{"enrolled student": sam, "student not enrolled": nia, "anonymous": ""} {
		decode(t, in.graphql(t, tok, video, vars).ok(t), &got)
		v := got.Lecture.Video
		gets := v.PlaybackURL != nil && v.ThumbnailURL != nil && v.StoryboardURL != nil
		if want := name == "enrolled student"; gets != want || v.Status != "READY" {
			t.Errorf("%s: status %s, URLs %v; want URLs %v", name, v.Status, gets, want)
		}
	}
}

// checkStream fetches the master playlist, checks it names the ladder with
// its attributes, and has ffprobe read every rendition through the signed
// URLs.
func checkStream(t testing.TB, master string, ladder []edustream.Rendition) {
	t.Helper()
	body := httpGet(t, master)
	for _, r := range ladder {
		attrs := fmt.Sprintf("BANDWIDTH=%d,", r.Bitrate)
		if !strings.Contains(body, attrs) || !strings.Contains(body, fmt.Sprintf("RESOLUTION=%dx%d", r.Width, r.Height)) ||
			!strings.Contains(body, `CODECS="`+r.Codecs+`"`) {
			t.Errorf("master lacks %s with BANDWIDTH, RESOLUTION and CODECS:\n%s", r.Name, body)
		}
	}
	var variants []string
	for line := range strings.Lines(body) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			variants = append(variants, line)
		}
	}
	if len(variants) != len(ladder) {
		t.Fatalf("master names %d variants, want %d:\n%s", len(variants), len(ladder), body)
	}
	bins := testenv.FFmpeg(t)
	for i, u := range variants {
		out, err := exec.Command(bins.FFprobe, "-v", "error", "-show_entries", "stream=codec_name,width,height:format=duration",
			"-of", "json", u).Output()
		if err != nil {
			t.Errorf("ffprobe %s: %v", ladder[i].Name, err)
			continue
		}
		var p struct {
			Streams []struct {
				CodecName     string `json:"codec_name"`
				Width, Height int
			}
			Format struct{ Duration string }
		}
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatal(err)
		}
		dur, _ := strconv.ParseFloat(p.Format.Duration, 64)
		var codecs []string
		for _, s := range p.Streams {
			codecs = append(codecs, s.CodecName)
			if s.CodecName == "h264" && (s.Width != ladder[i].Width || s.Height != ladder[i].Height) {
				t.Errorf("%s is %dx%d", ladder[i].Name, s.Width, s.Height)
			}
		}
		slices.Sort(codecs)
		if !slices.Equal(codecs, []string{"aac", "h264"}) || dur < 9.5 || dur > 10.6 {
			t.Errorf("%s: streams %v, duration %.2f s; want h264 and aac for 10 s", ladder[i].Name, codecs, dur)
		}
	}
}

// publishedLecture creates a published course with one lecture as the
// instructor and returns their ids.
func (in *instance) publishedLecture(t testing.TB, instructor string) (courseID, lectureID string) {
	t.Helper()
	var c struct{ CreateCourse struct{ ID string } }
	decode(t, in.graphql(t, instructor, `mutation { createCourse(input: {title: "Video course"}) { id } }`, nil).ok(t), &c)
	var l struct{ CreateLecture struct{ ID string } }
	decode(t, in.graphql(t, instructor, `mutation($c: ID!) { createLecture(input: {courseId: $c, title: "First"}) { id } }`,
		map[string]any{"c": c.CreateCourse.ID}).ok(t), &l)
	in.graphql(t, instructor, `mutation($c: ID!) { publishCourse(id: $c) { id } }`, map[string]any{"c": c.CreateCourse.ID}).ok(t)
	return c.CreateCourse.ID, l.CreateLecture.ID
}

// uploadClip uploads the file clip to the lecture through presigned
// part URLs, completes the upload as tok, and returns its id.
func (in *instance) uploadClip(t testing.TB, tok, lectureID, clip string) string {
	t.Helper()
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	uploadID, parts := in.uploadParts(t, tok, lectureID, data)
	in.graphql(t, tok, `mutation($in: CompleteVideoUploadInput!) { completeVideoUpload(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"uploadId": uploadID, "parts": parts}}).ok(t)
	return uploadID
}

// uploadParts opens an upload and PUTs its parts to the presigned URLs, as
// a browser does; it returns the upload id and the part list to complete.
func (in *instance) uploadParts(t testing.TB, tok, lectureID string, data []byte) (string, []map[string]any) {
	t.Helper()
	var up struct {
		CreateVideoUpload struct {
			ID        string
			PartSize  int64
			ExpiresAt time.Time
			Parts     []struct {
				PartNumber int
				URL        string
			}
		}
	}
	decode(t, in.graphql(t, tok, `mutation($in: CreateVideoUploadInput!) {
  createVideoUpload(input: $in) { id partSize expiresAt parts { partNumber url } } }`, map[string]any{"in": map[string]any{
		"lectureId": lectureID, "fileName": "lecture.mp4", "contentType": "video/mp4", "sizeBytes": len(data),
	}}).ok(t), &up)
	u := up.CreateVideoUpload
	if want := int((int64(len(data)) + u.PartSize - 1) / u.PartSize); len(u.Parts) != want || u.ExpiresAt.Before(time.Now()) {
		t.Fatalf("upload has %d parts of %d bytes expiring %v; want %d", len(u.Parts), u.PartSize, u.ExpiresAt, want)
	}
	var parts []map[string]any
	for _, p := range u.Parts {
		from := int64(p.PartNumber-1) * u.PartSize
		chunk := data[from:min(from+u.PartSize, int64(len(data)))]
		req, _ := http.NewRequest(http.MethodPut, p.URL, bytes.NewReader(chunk))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
			t.Fatalf("PUT part %d: %s, ETag %q", p.PartNumber, resp.Status, resp.Header.Get("ETag"))
		}
		parts = append(parts, map[string]any{"partNumber": p.PartNumber, "etag": resp.Header.Get("ETag")})
	}
	return u.ID, parts
}

// graphqlNoFatal is graphql for other goroutines than the test's.
func (in *instance) graphqlNoFatal(tok, query string, vars map[string]any) gqlResponse {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, in.url+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return gqlResponse{Raw: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := gqlResponse{Status: resp.StatusCode, Raw: string(raw)}
	json.Unmarshal(raw, &r)
	return r
}

func decode(t testing.TB, r gqlResponse, out any) {
	t.Helper()
	if err := json.Unmarshal(mustJSON(t, r.Data), out); err != nil {
		t.Fatalf("decode %s: %v", r.Raw, err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func httpGet(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func httpStatus(t testing.TB, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// encodingEvent is one event of the encodingProgress subscription.
type encodingEvent struct {
	VideoID       *string
	Status, Stage string
	Progress      float64
	Message       *string
	ETASeconds    *int
	QueuePosition *int
}

func countEvents(events []encodingEvent, status string) int {
	n := 0
	for _, e := range events {
		if e.Status == status {
			n++
		}
	}
	return n
}

// subscription is an encodingProgress subscription over graphql-transport-ws.
type subscription struct {
	events chan encodingEvent
	errs   chan error
}

// subscribe opens a websocket as the token's user and subscribes to the
// lecture's encoding. A refusal (an error message instead of events) is
// returned as an error naming its code.
func (in *instance) subscribe(t testing.TB, tok, lectureID string) (*subscription, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(in.url, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	send := func(m map[string]any) {
		b, _ := json.Marshal(m)
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tok}})
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($l: ID!) { encodingProgress(lectureId: $l) { videoId status stage progress message etaSeconds queuePosition } }`,
		"variables": map[string]any{"l": lectureID},
	}})
	s := &subscription{events: make(chan encodingEvent, 1024), errs: make(chan error, 1)}
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				s.errs <- err
				return
			}
			var m struct {
				Type    string
				Payload json.RawMessage
			}
			json.Unmarshal(data, &m)
			switch m.Type {
			case "next":
				var p struct {
					Data   struct{ EncodingProgress *encodingEvent }
					Errors []struct {
						Message    string
						Extensions map[string]any
					}
				}
				json.Unmarshal(m.Payload, &p)
				if len(p.Errors) > 0 {
					s.errs <- fmt.Errorf("%s (%v)", p.Errors[0].Message, p.Errors[0].Extensions["code"])
					return
				}
				s.events <- *p.Data.EncodingProgress
			case "error":
				var errs []struct {
					Message    string
					Extensions map[string]any
				}
				json.Unmarshal(m.Payload, &errs)
				if len(errs) > 0 {
					s.errs <- fmt.Errorf("%s (%v)", errs[0].Message, errs[0].Extensions["code"])
				} else {
					s.errs <- fmt.Errorf("error %s", m.Payload)
				}
				return
			case "complete":
				s.errs <- fmt.Errorf("complete")
				return
			}
		}
	}()
	// The first message says whether the subscription was accepted.
	select {
	case e := <-s.events:
		s.events <- e // keep it for next(): the channel is buffered and empty
		return s, nil
	case err := <-s.errs:
		return nil, err
	case <-time.After(testenv.WaitLimit):
		return nil, fmt.Errorf("no answer to the subscription within %v", testenv.WaitLimit)
	}
}

func (s *subscription) next(t testing.TB) encodingEvent {
	t.Helper()
	select {
	case e := <-s.events:
		return e
	case err := <-s.errs:
		t.Fatalf("subscription ended: %v", err)
	case <-time.After(testenv.WaitLimit):
		t.Fatal("no event")
	}
	return encodingEvent{}
}

// until collects events until one has the status (or FAILED, which fails
// the test unless that is what was awaited).
func (s *subscription) until(t testing.TB, status string, limit time.Duration) []encodingEvent {
	t.Helper()
	var got []encodingEvent
	deadline := time.After(limit)
	for {
		select {
		case e := <-s.events:
			got = append(got, e)
			if e.Status == status {
				return got
			}
			if e.Status == "FAILED" && status != "FAILED" {
				t.Fatalf("the video failed: %v", deref(e.Message))
			}
		case err := <-s.errs:
			t.Fatalf("subscription ended before %s: %v (after %d events)", status, err, len(got))
		case <-deadline:
			t.Fatalf("no %s within %v; last events %+v", status, limit, got[max(0, len(got)-3):])
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The upload command: the same presigned flow from a shell, then the
// encoding followed to the end, with a non-zero exit and the reason when
// the file is refused.
func TestUploadCommand(t *testing.T) {
	t.Parallel()
	testenv.FFmpeg(t)
	env, _ := backendEnv(t)
	in := start(t, env, "serve")
	ada := token(t, testSecret, "ada", edustream.RoleInstructor, time.Hour)
	_, lectureID := in.publishedLecture(t, ada)
	ctx := context.Background()

	var out bytes.Buffer
	clip := lectureClip(t)
	err := run(ctx, []string{"upload", "-url", in.url, "-token", ada, "-lecture", lectureID, clip}, func(string) string { return "" }, &out)
	if err != nil || !strings.Contains(out.String(), "is ready") || !strings.Contains(out.String(), "100.0 %") {
		t.Errorf("upload = %v\n%s", err, out.String())
	}
	var stages []string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 2 && f[0] == "PROCESSING" && !slices.Contains(stages, f[1]) {
			stages = append(stages, f[1])
		}
	}
	if want := []string{"PROBE", "TRANSCODE", "PUBLISH", "THUMBNAILS", "CAPTIONS", "METADATA", "COMPLETE"}; !slices.Equal(stages, want) {
		t.Errorf("printed stages %v, want %v", stages, want)
	}

	notes := t.TempDir() + "/notes.mp4"
	os.WriteFile(notes, []byte("these are my lecture notes, not a video\n"), 0o600)
	out.Reset()
	err = run(ctx, []string{"upload", "-url", in.url, "-token", ada, "-lecture", lectureID, notes}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "not a video") {
		t.Errorf("uploading a text file = %v, want the reason it failed\n%s", err, out.String())
	}
	for _, args := range [][]string{
		{"upload", "-url", in.url, "-token", ada, clip},
		{"upload", "-url", in.url, "-lecture", lectureID, clip},
		{"upload", "-url", in.url, "-token", ada, "-lecture", lectureID, t.TempDir() + "/missing.mp4"},
		{"upload", "-url", in.url, "-token", ada, "-lecture", lectureID, notes + ".txt"},
	} {
		if err := run(ctx, args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
