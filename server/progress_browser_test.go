//go:build unix

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/storage/local"
)

// hlsjsDir holds the npm project that brings hls.js, with its
// package-lock.json (see testenv.HLSJS).
const hlsjsDir = "testdata/hlsjs"

// TestProgressInBrowser plays a lecture with hls.js in headless Chromium:
// the page sends beats with recordWatch while it plays and its last one
// with navigator.sendBeacon as it is left, reloads, and resumes where
// the stored progress says it left off.
func TestProgressInBrowser(t *testing.T) {
	t.Parallel()
	bin := testenv.Chromium(t)
	ff := testenv.FFmpeg(t)
	player := testenv.HLSJS(t, hlsjsDir)
	ctx := t.Context()

	// A published course of one lecture, a student enrolled, and the
	// lecture's video READY: a 20-second HLS stream made by ffmpeg.
	store := edustreamtest.NewStore(nil)
	instructor, err := store.UpsertUser(ctx, edustream.Claims{Subject: "ada", Role: edustream.RoleInstructor, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	student, err := store.UpsertUser(ctx, edustream.Claims{Subject: "sam", Role: edustream.RoleStudent, Name: "Sam"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	course := &edustream.Course{InstructorID: instructor.ID, Title: "Course", PublishedAt: &now}
	if err := store.CreateCourse(ctx, course); err != nil {
		t.Fatal(err)
	}
	lecture := &edustream.Lecture{CourseID: course.ID, Title: "Lecture"}
	if err := store.CreateLecture(ctx, lecture); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Enroll(ctx, student.ID, course.ID); err != nil {
		t.Fatal(err)
	}
	video := readyVideo(t, store, lecture.ID, instructor.ID, 20)

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	blobs, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: srv.URL, SigningKey: bytes.Repeat([]byte("b"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	storeStream(t, ff.FFmpeg, blobs, video)
	playback, err := NewPlayback(PlaybackConfig{BaseURL: srv.URL, Key: bytes.Repeat([]byte("p"), 32), Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	progress := &edustream.Progress{Store: store}
	auth := NewAuthenticator(NewHS256Verifier(testSecret, testIssuer, testAudience), store, nil)
	beacons := &countingRecorder{rec: progress}
	mux.Handle("/", New(Config{
		Logger: slog.New(slog.DiscardHandler),
		GraphQL: graph.NewHandler(graph.Config{Config: gqlhttp.Config{}}, &graph.Resolver{
			UserService: store, CourseService: store, LectureService: store, EnrollmentService: store, VideoService: store,
			Playback: playback, Progress: progress, PublicCatalog: true,
		}),
		Auth:     auth,
		Playback: playback,
		Blobs:    blobs.Handler(),
		Progress: beacons,
	}))
	mux.HandleFunc("GET /test/player.html", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, "testdata/progress_player.html") })
	mux.HandleFunc("GET /test/hls.min.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, player) })
	reports := testenv.PageReports(mux, "/test/report")

	token := sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("sub", "sam"), set("role", "STUDENT"), set("name", "Sam")))
	stderr := testenv.RunChromium(t, bin, srv.URL+"/test/player.html?lecture="+idString(lecture.ID)+"&token="+token)

	var got struct {
		Error                     string
		LeftAt, Stored, ResumedAt float64
	}
	select {
	case b := <-reports:
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("report %q: %v", b, err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the page reported nothing in 2 minutes; chromium said:\n%.4000s", stderr.String())
	}
	if got.Error != "" {
		t.Fatalf("the page failed: %s", got.Error)
	}
	stored, err := store.FindLectureProgress(ctx, student.ID, []int64{lecture.ID})
	if err != nil {
		t.Fatal(err)
	}
	p := stored[lecture.ID]
	if p == nil {
		t.Fatal("nothing was stored")
	}
	t.Logf("left at %.3f s, stored %.3f s, resumed at %.3f s; watched %.0f s; %d beacons", got.LeftAt, got.Stored, got.ResumedAt, p.WatchedSeconds, beacons.n.Load())
	if got.LeftAt < 4.5 || math.Abs(got.Stored-got.LeftAt) > 0.01 || math.Abs(p.PositionSeconds-got.LeftAt) > 0.01 {
		t.Errorf("the page left at %.3f s, the store holds %.3f s (GraphQL said %.3f s)", got.LeftAt, p.PositionSeconds, got.Stored)
	}
	// hls.js seeks to the nearest frame.
	if math.Abs(got.ResumedAt-got.Stored) > 0.1 {
		t.Errorf("resumed at %.3f s, want the stored %.3f s", got.ResumedAt, got.Stored)
	}
	if p.WatchedSeconds < 4 || p.WatchedSeconds > 6 || p.Completed() {
		t.Errorf("watched %.0f s of the 20, completed %v; want the 4.5 s played", p.WatchedSeconds, p.Completed())
	}
	if beacons.n.Load() == 0 {
		t.Error("no beacon arrived as the page was left")
	}
}

// countingRecorder counts the beacons.
type countingRecorder struct {
	rec WatchRecorder
	n   atomic.Int64
}

func (c *countingRecorder) RecordWatch(ctx context.Context, u *edustream.User, b edustream.WatchBeat) (*edustream.LectureProgress, error) {
	c.n.Add(1)
	return c.rec.RecordWatch(ctx, u, b)
}

// readyVideo makes a READY video of duration seconds the lecture's
// current one.
func readyVideo(t *testing.T, store *edustreamtest.Store, lectureID, uploaderID int64, duration float64) *edustream.Video {
	t.Helper()
	ctx := t.Context()
	v := &edustream.Video{LectureID: lectureID, UploaderID: uploaderID, FileName: "talk.mp4", ContentType: "video/mp4", SizeBytes: 1}
	if err := store.CreateVideo(ctx, v); err != nil {
		t.Fatal(err)
	}
	uploaded, probe, processing := edustream.VideoUploaded, edustream.StageProbe, edustream.VideoProcessing
	var err error
	if v, err = store.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &uploaded, Stage: &probe}); err != nil {
		t.Fatal(err)
	}
	media := &edustream.MediaInfo{DurationSeconds: duration, Width: 320, Height: 180, VideoCodec: "h264", AudioCodec: "aac"}
	if v, err = store.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Status: &processing, Media: media}); err != nil {
		t.Fatal(err)
	}
	for v.Stage != edustream.StageComplete {
		next, _ := v.Stage.Next()
		if v, err = store.TransitionVideo(ctx, v.ID, v.Status, v.Stage, edustream.VideoUpdate{Stage: &next}); err != nil {
			t.Fatal(err)
		}
	}
	if v, _, err = store.CompleteVideo(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	return v
}

// storeStream makes a 20-second HLS stream of one rendition with ffmpeg
// and stores it where the chain leaves v's.
func storeStream(t *testing.T, ffmpeg string, blobs *local.Store, v *edustream.Video) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "180p"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), ffmpeg, "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50", "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "64k", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(dir, "180p", "seg_%03d.ts"), filepath.Join(dir, "180p", "index.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	master := "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180\n180p/index.m3u8\n"
	if err := os.WriteFile(filepath.Join(dir, edustream.MasterPlaylistName), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		contentType := "video/mp2t"
		if strings.HasSuffix(rel, ".m3u8") {
			contentType = "application/vnd.apple.mpegurl"
		}
		return blobs.Put(t.Context(), v.HLSPrefix()+filepath.ToSlash(rel), bytes.NewReader(b), int64(len(b)), edustream.BlobMeta{ContentType: contentType})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
