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
	"path/filepath"
	"strings"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage"
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

// seedDemo creates the demo users and, the first time only, a published demo
// course with lectures, so the playground has something to show.
func seedDemo(ctx context.Context, db *storage.DB, users edustream.UserService) error {
	var instructor *edustream.User
	for _, c := range devUsers {
		u, err := users.UpsertUser(ctx, c)
		if err != nil {
			return err
		}
		if u.Role == edustream.RoleInstructor {
			instructor = u
		}
	}
	courses := storage.NewCourseService(db, nil)
	existing, _, err := courses.FindCourses(ctx, edustream.CourseFilter{MineOf: instructor.ID, DraftsOf: instructor.ID, Limit: 1})
	if err != nil || len(existing) > 0 {
		return err
	}
	course := &edustream.Course{
		InstructorID: instructor.ID,
		Title:        "Streaming Video, From Camera to Screen",
		Description:  "How a lecture recording becomes an adaptive HLS stream: codecs, containers, ladders and CDNs.",
	}
	if err := courses.CreateCourse(ctx, course); err != nil {
		return err
	}
	lectures := storage.NewLectureService(db, nil)
	for _, title := range []string{
		"Pixels, frames and codecs",
		"Containers: MP4, MPEG-TS and fMP4",
		"Adaptive bitrate ladders",
		"HLS playlists and segments",
		"Delivering through a CDN",
	} {
		if err := lectures.CreateLecture(ctx, &edustream.Lecture{CourseID: course.ID, Title: title}); err != nil {
			return err
		}
	}
	publish := true
	_, err = courses.UpdateCourse(ctx, course.ID, edustream.CourseUpdate{Published: &publish})
	return err
}

// printDevBanner tells the developer where to click and which tokens to
// paste.
func printDevBanner(w io.Writer, baseURL string, secret []byte) error {
	fmt.Fprintf(w, "\nEduStream dev is running.\n\n  Playground: %s/\n  GraphQL:    %s/query\n\nTokens (valid 7 days; paste into the playground's Headers as {\"Authorization\": \"Bearer <token>\"}):\n", baseURL, baseURL)
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
