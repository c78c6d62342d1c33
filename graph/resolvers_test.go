package graph_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/edustreamtest"
	"github.com/edustream/edustream/graph"
)

const catalogQuery = `query Catalog($first: Int, $after: String) {
  courses(first: $first, after: $after) {
    edges { cursor node { id title published instructor { id name } enrolled
      lectures { id position title course { id } } } }
    pageInfo { hasNextPage endCursor }
  }
}`

// The catalog costs the same number of SQL round trips whatever its size:
// one for the page, then one per kind of related row (instructors, lectures,
// the caller's enrollments), each batched by a dataloader.
func TestCatalogRoundTripsAreConstant(t *testing.T) {
	t.Parallel()
	roundTrips := func(t *testing.T, courses int) int64 {
		b := setup(t)
		instructors := []*edustream.User{b.instructor, b.otherInstructor, b.admin}
		for i := range courses {
			b.seedCourse(t, instructors[i%len(instructors)], fmt.Sprintf("Course %d", i), 5, true)
		}
		b.queries.Store(0)
		r := b.post(t, b.student, catalogQuery, map[string]any{"first": 100}).NoErrors(t)
		edges := r.Data["courses"].(map[string]any)["edges"].([]any)
		if len(edges) != courses {
			t.Fatalf("got %d courses, want %d", len(edges), courses)
		}
		for _, e := range edges {
			node := e.(map[string]any)["node"].(map[string]any)
			if n := len(node["lectures"].([]any)); n != 5 {
				t.Fatalf("course %v has %d lectures, want 5", node["id"], n)
			}
			if node["instructor"].(map[string]any)["name"] == "" {
				t.Fatalf("course %v has no instructor name", node["id"])
			}
		}
		return b.queries.Load()
	}
	few, many := roundTrips(t, 2), roundTrips(t, 50)
	if few != many {
		t.Errorf("2 courses took %d round trips, 50 took %d: the catalog is N+1", few, many)
	}
	if many > 4 {
		t.Errorf("50 courses took %d round trips, want at most 4 (courses, instructors, lectures, enrollments)", many)
	}
}

func TestCatalogPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []string
	for i := range 5 {
		want = append(want, idOf(b.seedCourse(t, b.instructor, fmt.Sprintf("Course %d", i), 0, true)))
	}
	b.seedCourse(t, b.instructor, "Draft", 0, false)
	slices.Reverse(want) // newest first

	var got []string
	var after any
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		r := b.post(t, b.student, catalogQuery, map[string]any{"first": 2, "after": after}).NoErrors(t)
		conn := r.Data["courses"].(map[string]any)
		for _, e := range conn["edges"].([]any) {
			got = append(got, e.(map[string]any)["node"].(map[string]any)["id"].(string))
		}
		info := conn["pageInfo"].(map[string]any)
		if !info["hasNextPage"].(bool) {
			break
		}
		after = info["endCursor"]
	}
	if !slices.Equal(got, want) {
		t.Errorf("student pages through %v, want the published courses newest first %v", got, want)
	}

	r := b.post(t, b.instructor, `{ courses(first: 10, filter: {published: false}) { edges { node { title } } } }`, nil).NoErrors(t)
	if edges := r.Data["courses"].(map[string]any)["edges"].([]any); len(edges) != 1 {
		t.Errorf("instructor sees %d drafts, want their 1", len(edges))
	}
	r = b.post(t, b.student, `{ courses(first: 10, filter: {published: false}) { edges { node { title } } } }`, nil).NoErrors(t)
	if edges := r.Data["courses"].(map[string]any)["edges"].([]any); len(edges) != 0 {
		t.Errorf("student sees %d drafts, want none", len(edges))
	}
}

// The course life cycle as the resolvers see it: create, add and reorder
// lectures, publish, enroll, filter by "mine", delete.
func TestCourseLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.post(t, b.instructor, `mutation { createCourse(input: {title: "Go for video"}) { id title published instructor { name email } } }`, nil).NoErrors(t)
	course := r.Data["createCourse"].(map[string]any)
	id := course["id"].(string)
	if course["published"].(bool) || course["instructor"].(map[string]any)["email"] != "ada@example.test" {
		t.Fatalf("new course = %v, want an unpublished draft of ada, who sees her own email", course)
	}

	var lectureIDs []string
	for _, title := range []string{"One", "Two", "Three"} {
		r := b.post(t, b.instructor, `mutation($c: ID!, $t: String!) { createLecture(input: {courseId: $c, title: $t}) { id position } }`,
			map[string]any{"c": id, "t": title}).NoErrors(t)
		lectureIDs = append(lectureIDs, r.Data["createLecture"].(map[string]any)["id"].(string))
	}
	b.post(t, b.instructor, `mutation($id: ID!) { moveLecture(id: $id, position: 1) { position } }`, map[string]any{"id": lectureIDs[2]}).NoErrors(t)
	b.post(t, b.instructor, `mutation($id: ID!) { updateLecture(id: $id, input: {title: "Uno"}) { title } }`, map[string]any{"id": lectureIDs[0]}).NoErrors(t)
	b.post(t, b.instructor, `mutation($id: ID!) { deleteLecture(id: $id) }`, map[string]any{"id": lectureIDs[1]}).NoErrors(t)

	titles := func(user *edustream.User) string {
		r := b.post(t, user, `query($id: ID!) { course(id: $id) { lectures { position title } } }`, map[string]any{"id": id}).NoErrors(t)
		var parts []string
		for _, l := range r.Data["course"].(map[string]any)["lectures"].([]any) {
			l := l.(map[string]any)
			parts = append(parts, fmt.Sprintf("%v:%v", l["position"], l["title"]))
		}
		return strings.Join(parts, " ")
	}
	if got, want := titles(b.instructor), "1:Three 2:Uno"; got != want {
		t.Errorf("lectures = %q, want %q", got, want)
	}

	if r := b.post(t, b.student, `query($id: ID!) { course(id: $id) { id } }`, map[string]any{"id": id}); r.Code(t) != "NOT_FOUND" {
		t.Errorf("a student reading a draft got %s, want NOT_FOUND", r.Raw)
	}
	b.post(t, b.instructor, `mutation($id: ID!) { publishCourse(id: $id) { published publishedAt } }`, map[string]any{"id": id}).NoErrors(t)
	if got, want := titles(b.student), "1:Three 2:Uno"; got != want {
		t.Errorf("student sees lectures %q, want %q", got, want)
	}

	r = b.post(t, b.student, `mutation($id: ID!) { enroll(courseId: $id) { enrolledAt course { title enrolled instructor { name email } } } }`, map[string]any{"id": id}).NoErrors(t)
	enrolled := r.Data["enroll"].(map[string]any)["course"].(map[string]any)
	if !enrolled["enrolled"].(bool) || enrolled["instructor"].(map[string]any)["email"] != nil {
		t.Errorf("after enrolling: %v, want enrolled and the instructor's email hidden from a student", enrolled)
	}
	b.post(t, b.student, `mutation($id: ID!) { enroll(courseId: $id) { enrolledAt } }`, map[string]any{"id": id}).NoErrors(t)

	b.seedCourse(t, b.otherInstructor, "Someone else's", 1, true)
	for _, user := range []*edustream.User{b.student, b.instructor} {
		r = b.post(t, user, `{ courses(filter: {mine: true}) { edges { node { id } } } }`, nil).NoErrors(t)
		edges := r.Data["courses"].(map[string]any)["edges"].([]any)
		if len(edges) != 1 || edges[0].(map[string]any)["node"].(map[string]any)["id"] != id {
			t.Errorf("%s's courses = %v, want only %s", user.Subject, edges, id)
		}
	}

	r = b.post(t, b.instructor, `mutation($id: ID!) { deleteCourse(id: $id) }`, map[string]any{"id": id}).NoErrors(t)
	if purges := b.jobs.Purges(); r.Data["deleteCourse"] != id || len(purges) != 1 {
		t.Errorf("deleteCourse = %v, purges enqueued %v", r.Data, purges)
	}
	if r := b.post(t, b.student, `query($id: ID!) { course(id: $id) { id } }`, map[string]any{"id": id}); r.Code(t) != "NOT_FOUND" {
		t.Errorf("a deleted course is still visible: %s", r.Raw)
	}
}

// Every refusal has its code, a clear message, and changes nothing.
func TestRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine := b.seedCourse(t, b.instructor, "Mine", 2, true)
	draft := b.seedCourse(t, b.instructor, "My draft", 1, false)
	others := b.seedCourse(t, b.otherInstructor, "Theirs", 1, true)
	lecturesOf := func(c *edustream.Course) string {
		r := b.post(t, b.admin, `query($id: ID!) { course(id: $id) { lectures { id } } }`, map[string]any{"id": idOf(c)}).NoErrors(t)
		return r.Data["course"].(map[string]any)["lectures"].([]any)[0].(map[string]any)["id"].(string)
	}
	othersLecture, draftLecture := lecturesOf(others), lecturesOf(draft)
	long := strings.Repeat("x", edustream.MaxTitleLength+1)
	nested := "{ course(id: 1) { " + strings.Repeat("lectures { course { ", 25) + "id" + strings.Repeat(" } }", 25) + " } }"
	var bomb strings.Builder
	bomb.WriteString("{ ")
	for i := range 300 {
		fmt.Fprintf(&bomb, "a%d: courses(first: 100) { edges { node { lectures { title } } } } ", i)
	}
	bomb.WriteString("}")

	tests := []struct {
		name    string
		user    *edustream.User
		query   string
		vars    map[string]any
		code    string
		message string
	}{
		{"anonymous mutation", nil, `mutation { createCourse(input: {title: "x"}) { id } }`, nil, "UNAUTHENTICATED", "sign in"},
		{"anonymous mine", nil, `{ courses(filter: {mine: true}) { edges { cursor } } }`, nil, "UNAUTHENTICATED", "sign in"},
		{"student creates a course", b.student, `mutation { createCourse(input: {title: "x"}) { id } }`, nil, "FORBIDDEN", "only instructors"},
		{"student creates a lecture", b.student, `mutation($c: ID!) { createLecture(input: {courseId: $c, title: "x"}) { id } }`, map[string]any{"c": idOf(mine)}, "FORBIDDEN", "instructor or an admin"},
		{"student publishes", b.student, `mutation($c: ID!) { publishCourse(id: $c, published: false) { id } }`, map[string]any{"c": idOf(mine)}, "FORBIDDEN", ""},
		{"instructor edits another's course", b.instructor, `mutation($c: ID!) { updateCourse(id: $c, input: {title: "mine now"}) { id } }`, map[string]any{"c": idOf(others)}, "FORBIDDEN", ""},
		{"instructor deletes another's course", b.instructor, `mutation($c: ID!) { deleteCourse(id: $c) }`, map[string]any{"c": idOf(others)}, "FORBIDDEN", ""},
		{"instructor moves another's lecture", b.instructor, `mutation($l: ID!) { moveLecture(id: $l, position: 1) { id } }`, map[string]any{"l": othersLecture}, "FORBIDDEN", ""},
		{"instructor deletes another's lecture", b.instructor, `mutation($l: ID!) { deleteLecture(id: $l) }`, map[string]any{"l": othersLecture}, "FORBIDDEN", ""},
		{"other instructor edits a draft they cannot see", b.otherInstructor, `mutation($c: ID!) { updateCourse(id: $c, input: {title: "x"}) { id } }`, map[string]any{"c": idOf(draft)}, "NOT_FOUND", ""},
		{"student reads a draft's lecture", b.student, `query($l: ID!) { lecture(id: $l) { title } }`, map[string]any{"l": draftLecture}, "NOT_FOUND", "not found"},
		{"unknown course", b.admin, `{ course(id: 999999) { id } }`, nil, "NOT_FOUND", "course 999999 not found"},
		{"unknown lecture", b.admin, `mutation { updateLecture(id: 999999, input: {title: "x"}) { id } }`, nil, "NOT_FOUND", "lecture 999999 not found"},
		{"malformed id", b.admin, `{ course(id: "abc") { id } }`, nil, "BAD_USER_INPUT", "invalid id"},
		{"empty title", b.instructor, `mutation { createCourse(input: {title: "   "}) { id } }`, nil, "BAD_USER_INPUT", "must not be empty"},
		{"oversized title", b.instructor, `mutation($t: String!) { createCourse(input: {title: $t}) { id } }`, map[string]any{"t": long}, "BAD_USER_INPUT", "at most 200"},
		{"oversized lecture title", b.instructor, `mutation($c: ID!, $t: String!) { createLecture(input: {courseId: $c, title: $t}) { id } }`, map[string]any{"c": idOf(mine), "t": long}, "BAD_USER_INPUT", "at most 200"},
		{"empty title update", b.instructor, `mutation($c: ID!) { updateCourse(id: $c, input: {title: ""}) { id } }`, map[string]any{"c": idOf(mine)}, "BAD_USER_INPUT", "must not be empty"},
		{"position zero", b.instructor, `mutation($l: ID!) { moveLecture(id: $l, position: 0) { id } }`, map[string]any{"l": lecturesOf(mine)}, "BAD_USER_INPUT", "at least 1"},
		{"enroll in a draft", b.instructor, `mutation($c: ID!) { enroll(courseId: $c) { enrolledAt } }`, map[string]any{"c": idOf(draft)}, "BAD_USER_INPUT", "not published"},
		{"first: 100000", b.student, `{ courses(first: 100000) { edges { cursor } } }`, nil, "BAD_USER_INPUT", "between 0 and 100"},
		{"negative first", b.student, `{ courses(first: -1) { edges { cursor } } }`, nil, "BAD_USER_INPUT", "between 0 and 100"},
		{"forged cursor", b.student, `{ courses(after: "bm90IGEgY3Vyc29y") { edges { cursor } } }`, nil, "BAD_USER_INPUT", "invalid cursor"},
		{"50-level nesting", b.admin, nested, nil, "BAD_USER_INPUT", ""},
		{"alias bomb", b.admin, bomb.String(), nil, "BAD_USER_INPUT", ""},
		{"syntax error", b.admin, `{ courses(first: 1 { edges } }`, nil, "BAD_USER_INPUT", ""},
		{"unknown field", b.admin, `{ courses { nope } }`, nil, "BAD_USER_INPUT", ""},
	}
	before := b.snapshot(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(t, tt.user, tt.query, tt.vars)
			if got := r.Code(t); got != tt.code {
				t.Errorf("code = %s, want %s: %s", got, tt.code, r.Raw)
			}
			if !strings.Contains(r.Errors[0].Message, tt.message) {
				t.Errorf("message = %q, want it to mention %q", r.Errors[0].Message, tt.message)
			}
		})
	}
	if after := b.snapshot(t); after != before {
		t.Errorf("refused requests changed the database:\nbefore %s\nafter  %s", before, after)
	}
	if purges := b.jobs.Purges(); len(purges) != 0 {
		t.Errorf("refused requests enqueued purges %v", purges)
	}
}

func TestLimitsNameTheirReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nested := "{ course(id: 1) { " + strings.Repeat("lectures { course { ", 25) + "id" + strings.Repeat(" } }", 25) + " } }"
	r := b.post(t, b.admin, nested, nil)
	if !strings.Contains(r.Errors[0].Message, "nested more than") {
		t.Errorf("deep query: %s", r.Raw)
	}
	var many strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&many, "a%d: me { id } ", i)
	}
	r = b.post(t, b.admin, "{ "+many.String()+"}", nil)
	if r.Code(t) != "BAD_USER_INPUT" || !strings.Contains(strings.ToLower(r.Errors[0].Message), "token") {
		t.Errorf("a document over the token limit: %s", r.Raw)
	}
	r = b.post(t, b.admin, `{ a: courses(first: 100) { edges { node { lectures { course { lectures { title } } } } } } }`, nil)
	if r.Code(t) != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("an expensive query: %s", r.Raw)
	}
}

// With the queue down, deleting still succeeds: the course is hidden in the
// database, which the reconciler reads to enqueue the purge later.
func TestDeleteCourseSurvivesAQueueOutage(t *testing.T) {
	t.Parallel()
	broken := &edustreamtest.Jobs{}
	broken.SetError(errors.New("redis: connection refused"))
	b := setup(t, func(_ *graph.Config, r *graph.Resolver) { r.JobQueue = broken })
	c := b.seedCourse(t, b.instructor, "Doomed", 1, true)
	r := b.post(t, b.instructor, `mutation($id: ID!) { deleteCourse(id: $id) }`, map[string]any{"id": idOf(c)}).NoErrors(t)
	if r.Data["deleteCourse"] != idOf(c) {
		t.Errorf("deleteCourse = %v", r.Data)
	}
	hidden, err := b.courses.FindHiddenCourseIDs(context.Background())
	if err != nil || !slices.Equal(hidden, []int64{c.ID}) {
		t.Errorf("hidden courses = %v, %v; want [%d] waiting for the reconciler", hidden, err, c.ID)
	}
}
