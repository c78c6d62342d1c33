package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/server"
)

const devSecretFile = "dev-jwt-secret"

// The demo users dev seeds and prints tokens for.
var devUsers = []edustream.Claims{
	{Subject: "dev-admin", Role: edustream.RoleAdmin, Email: "admin@edustream.test", Name: "Dev Admin"},
	{Subject: "dev-instructor", Role: edustream.RoleInstructor, Email: "ada@edustream.test", Name: "Ada Lovelace"},
	{Subject: "dev-student", Role: edustream.RoleStudent, Email: "sam@edustream.test", Name: "Sam Student"},
}

// devSecret returns the HS256 secret of dev mode, creating it on first use.
func devSecret(dataDir string) ([]byte, error) {
	secret, err := readDevSecret(dataDir)
	if !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	hexSecret := hex.EncodeToString(raw)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dataDir, devSecretFile), []byte(hexSecret+"\n"), 0o600); err != nil {
		return nil, err
	}
	return []byte(hexSecret), nil
}

// readDevSecret reads the dev secret, refusing one too short for serve:
// dev and token use it alike. fs.ErrNotExist if there is none.
func readDevSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, devSecretFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	secret := []byte(strings.TrimSpace(string(b)))
	if len(secret) < minSecretBytes {
		return nil, fmt.Errorf("the dev secret in %s is %d bytes, shorter than the %d serve requires: delete the file and run `edustream dev` to make a new one", path, len(secret), minSecretBytes)
	}
	return secret, nil
}

// demoSeed is what seedDemo made the first time: where the demo video goes.
type demoSeed struct {
	instructorID, lectureID int64
}

// seedDemo creates the demo users and, the first time only, a published demo
// course with lectures that the demo student is enrolled in, so the
// playground has something to show and the student's playbackUrl is not
// null. It returns nil when the course already existed.
func seedDemo(ctx context.Context, svc *services) (*demoSeed, error) {
	var instructor, student *edustream.User
	for _, c := range devUsers {
		u, err := svc.users.UpsertUser(ctx, c)
		if err != nil {
			return nil, err
		}
		switch u.Role {
		case edustream.RoleInstructor:
			instructor = u
		case edustream.RoleStudent:
			student = u
		}
	}
	courses := svc.courses
	existing, _, err := courses.FindCourses(ctx, edustream.CourseFilter{MineOf: instructor.ID, DraftsOf: instructor.ID, Limit: 1})
	if err != nil || len(existing) > 0 {
		return nil, err
	}
	course := &edustream.Course{
		InstructorID: instructor.ID,
		Title:        "Streaming Video, From Camera to Screen",
		Description:  "How a lecture recording becomes an adaptive HLS stream: codecs, containers, ladders and CDNs.",
	}
	if err := courses.CreateCourse(ctx, course); err != nil {
		return nil, err
	}
	seed := &demoSeed{instructorID: instructor.ID}
	for _, title := range []string{
		"Pixels, frames and codecs",
		"Containers: MP4, MPEG-TS and fMP4",
		"Adaptive bitrate ladders",
		"HLS playlists and segments",
		"Delivering through a CDN",
	} {
		l := &edustream.Lecture{CourseID: course.ID, Title: title}
		if err := svc.lectures.CreateLecture(ctx, l); err != nil {
			return nil, err
		}
		if seed.lectureID == 0 {
			seed.lectureID = l.ID
		}
	}
	publish := true
	if _, err = courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Published: &publish}); err != nil {
		return nil, err
	}
	// Only the instructor, admins and enrolled students get a video's
	// URLs: enrolled, the demo student can play it.
	if _, err := svc.enrollments.Enroll(ctx, student.ID, course.ID); err != nil {
		return nil, fmt.Errorf("enroll the demo student: %w", err)
	}
	return seed, nil
}

// seedDemoVideo gives the demo's first lecture a short generated video (a
// test pattern and a tone), which the workers turn into a stream like any
// upload, so the playground has something to play.
func seedDemoVideo(ctx context.Context, uploads *edustream.Uploads, ffmpegPath string, seed *demoSeed) error {
	dir, err := os.MkdirTemp("", "edustream-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clip := filepath.Join(dir, "demo.mp4")
	out, err := exec.CommandContext(ctx, ffmpegPath, "-v", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000",
		"-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip).CombinedOutput()
	if err != nil {
		return fmt.Errorf("make the demo clip: %v: %s", err, out)
	}
	f, err := os.Open(clip)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = uploads.Ingest(ctx, seed.instructorID, seed.lectureID, "demo.mp4", "video/mp4", f, st.Size())
	return err
}

// printDevBanner tells the developer where to click and which tokens to
// paste.
func printDevBanner(w io.Writer, baseURL, metricsURL string, secret []byte) error {
	fmt.Fprintf(w, "\nEduStream dev is running.\n\n  Playground: %s/\n  GraphQL:    %s/query\n", baseURL, baseURL)
	if metricsURL != "" {
		fmt.Fprintf(w, "  Metrics:    %s\n", metricsURL)
	}
	fmt.Fprintln(w, "\nTokens (valid 7 days; paste into the playground's Headers as {\"Authorization\": \"Bearer <token>\"}):")
	for _, c := range devUsers {
		token, err := server.IssueToken(secret, c, "", "", 7*24*time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n  %-10s %s\n  %-10s %s/#token=%s\n", c.Role, token, "", baseURL, token)
	}
	fmt.Fprintln(w)
	return nil
}
