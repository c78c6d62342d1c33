package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/internal/testenv"
)

// BenchmarkCatalogInMemory measures the GraphQL layer alone, next to the
// least any Go implementation must do for the same bytes (their ratio comes
// from internal/cmd/alternate's rounds: -count N does not interleave them):
//
//   - gqlgen: the /query handler (body decoding, the executor, resolvers,
//     loaders, the response) over services that answer from memory, on
//     the catalog of cmd/edustream's benchmarks (20 courses × 10
//     lectures, 5 instructors), as a student, without the response cache;
//   - encoding-json: encoding/json writing the same bytes from plain
//     structs, built from the same copies the services hand out.
//
// Results: docs/benchmarks.md.
func BenchmarkCatalogInMemory(b *testing.B) {
	mem := newMemCatalog(20, 10, 5)
	h := graph.NewHandler(graph.Config{}, mem.resolver())
	body, _ := json.Marshal(map[string]string{"query": benchCatalogQuery})
	student := &edustream.User{ID: 1000, Role: edustream.RoleStudent}
	run := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(edustream.NewContextWithUser(req.Context(), student))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	want := mem.catalogJSON(b)
	if got := run().Body.Bytes(); !bytes.Equal(bytes.TrimSpace(got), want) {
		b.Fatalf("the handler and the floor answer differently:\n%.400s\n%.400s", got, want)
	}
	b.Run("gqlgen", func(b *testing.B) {
		parallel(b, func() {
			if rec := run(); rec.Code != http.StatusOK {
				b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
			}
		})
		b.SetBytes(int64(len(want)))
	})
	b.Run("encoding-json", func(b *testing.B) {
		parallel(b, func() { mem.catalogJSON(b) })
		b.SetBytes(int64(len(want)))
	})
}

// parallel runs op on every P, so ns/op is the inverse of throughput; it
// reports allocations and CPU time.
func parallel(b *testing.B, op func()) {
	b.ReportAllocs()
	b.ResetTimer()
	defer testenv.ReportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
}

const benchCatalogQuery = `{ courses(first: 20) { edges { node { id title description instructor { id name } lectures { id position title } } } } }`

// memCatalog is a catalog held in memory, behind the domain's service
// interfaces; the methods the catalog does not call are left to the
// embedded nil interfaces.
type memCatalog struct {
	users    map[int64]*edustream.User
	courses  []*edustream.Course // newest first
	lectures map[int64][]*edustream.Lecture
}

func newMemCatalog(courses, lecturesPerCourse, instructors int) *memCatalog {
	m := &memCatalog{users: map[int64]*edustream.User{}, lectures: map[int64][]*edustream.Lecture{}}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range instructors {
		id := int64(i + 1)
		m.users[id] = &edustream.User{ID: id, Name: fmt.Sprintf("Instructor %d", i), Role: edustream.RoleInstructor}
	}
	lectureID := int64(1)
	for i := range courses {
		c := &edustream.Course{ID: int64(i + 1), InstructorID: int64(i%instructors + 1), Title: fmt.Sprintf("Course %d", i),
			Description: strings.Repeat("A course about video. ", 5), PublishedAt: &now, CreatedAt: now, UpdatedAt: now}
		m.courses = append(m.courses, c)
		for j := range lecturesPerCourse {
			m.lectures[c.ID] = append(m.lectures[c.ID], &edustream.Lecture{ID: lectureID, CourseID: c.ID, Position: j + 1,
				Title: fmt.Sprintf("Lecture %d.%d", i, j), CreatedAt: now, UpdatedAt: now})
			lectureID++
		}
	}
	slices.Reverse(m.courses)
	return m
}

func (m *memCatalog) resolver() *graph.Resolver {
	return &graph.Resolver{
		UserService:       memUsers{m: m},
		CourseService:     memCourses{m: m},
		LectureService:    memLectures{m: m},
		EnrollmentService: memEnrollments{},
		PublicCatalog:     true,
	}
}

type memUsers struct {
	edustream.UserService
	m *memCatalog
}

func (s memUsers) FindUsersByIDs(_ context.Context, ids []int64) (map[int64]*edustream.User, error) {
	out := make(map[int64]*edustream.User, len(ids))
	for _, id := range ids {
		if u := s.m.users[id]; u != nil {
			copied := *u
			out[id] = &copied
		}
	}
	return out, nil
}

type memCourses struct {
	edustream.CourseService
	m *memCatalog
}

func (s memCourses) FindCourses(_ context.Context, f edustream.CourseFilter) ([]*edustream.Course, bool, error) {
	var out []*edustream.Course
	for _, c := range s.m.courses {
		if len(out) == f.Limit {
			return out, true, nil
		}
		copied := *c
		out = append(out, &copied)
	}
	return out, false, nil
}

func (s memCourses) FindCoursesByIDs(_ context.Context, ids []int64) (map[int64]*edustream.Course, error) {
	out := make(map[int64]*edustream.Course, len(ids))
	for _, c := range s.m.courses {
		if slices.Contains(ids, c.ID) {
			copied := *c
			out[c.ID] = &copied
		}
	}
	return out, nil
}

type memLectures struct {
	edustream.LectureService
	m *memCatalog
}

func (s memLectures) FindLecturesByCourseIDs(_ context.Context, ids []int64) (map[int64][]*edustream.Lecture, error) {
	out := make(map[int64][]*edustream.Lecture, len(ids))
	for _, id := range ids {
		for _, l := range s.m.lectures[id] {
			copied := *l
			out[id] = append(out[id], &copied)
		}
	}
	return out, nil
}

func (s memLectures) FindLectureOutlinesByCourseIDs(ctx context.Context, ids []int64) (map[int64][]*edustream.Lecture, error) {
	out, err := s.FindLecturesByCourseIDs(ctx, ids)
	for _, ls := range out {
		for _, l := range ls {
			l.Description, l.Outline = "", true
		}
	}
	return out, err
}

type memEnrollments struct{ edustream.EnrollmentService }

func (memEnrollments) FindEnrollments(context.Context, int64, []int64) (map[int64]*edustream.Enrollment, error) {
	return map[int64]*edustream.Enrollment{}, nil
}

// catalogJSON is the floor: the benchmark's response from plain structs,
// built from the same copies the services hand out.
func (m *memCatalog) catalogJSON(b *testing.B) []byte {
	type user struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	type lecture struct {
		ID       string `json:"id"`
		Position int    `json:"position"`
		Title    string `json:"title"`
	}
	type course struct {
		ID          string    `json:"id"`
		Title       string    `json:"title"`
		Description string    `json:"description"`
		Instructor  user      `json:"instructor"`
		Lectures    []lecture `json:"lectures"`
	}
	type edge struct {
		Node course `json:"node"`
	}
	ctx := context.Background()
	courses, _, _ := memCourses{m: m}.FindCourses(ctx, edustream.CourseFilter{Limit: 20})
	edges := make([]edge, len(courses))
	for i, c := range courses {
		lectures, _ := memLectures{m: m}.FindLecturesByCourseIDs(ctx, []int64{c.ID})
		users, _ := memUsers{m: m}.FindUsersByIDs(ctx, []int64{c.InstructorID})
		e := course{ID: strconv.FormatInt(c.ID, 10), Title: c.Title, Description: c.Description,
			Instructor: user{ID: strconv.FormatInt(c.InstructorID, 10), Name: users[c.InstructorID].Name}}
		for _, l := range lectures[c.ID] {
			e.Lectures = append(e.Lectures, lecture{ID: strconv.FormatInt(l.ID, 10), Position: l.Position, Title: l.Title})
		}
		edges[i] = edge{e}
	}
	var out struct {
		Data struct {
			Courses struct {
				Edges []edge `json:"edges"`
			} `json:"courses"`
		} `json:"data"`
	}
	out.Data.Courses.Edges = edges
	body, err := json.Marshal(out)
	if err != nil {
		b.Fatal(err)
	}
	return body
}
