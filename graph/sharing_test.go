package graph

import (
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/graph/generated"
)

func TestSharedBy(t *testing.T) {
	t.Parallel()
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	tests := []struct {
		name  string
		query string
		want  gqlhttp.Class
	}{
		{"catalog", `{ courses { edges { cursor node { id title instructor { name } lectures { id title } } } pageInfo { hasNextPage } } }`, shared},
		{"enrolled", `{ courses { edges { node { enrolled } } } }`, anonymousOnly},
		{"me", `{ me { id } }`, anonymousOnly},
		{"email", `{ course(id: 1) { instructor { email } } }`, anonymousOnly},
		{"signed URLs", `{ lecture(id: 1) { video { playbackUrl } } }`, anonymousOnly},
		{"uploader's fields", `{ lecture(id: 1) { video { error fileName } nextVideo { status } } }`, shared},
		{"progress moves unannounced", `{ lecture(id: 1) { video { progress } } }`, 0},
		{"so does a video's updatedAt", `{ lecture(id: 1) { video { updatedAt } } }`, 0},
		{"live sessions", `{ course(id: 1) { liveSessions { id } } }`, 0},
		{"liveSession", `{ liveSession(id: 1) { id } }`, 0},
		{"introspection", `{ __schema { queryType { name } } }`, 0},
		{"__typename", `{ __typename courses { __typename } }`, shared},
		{"mine", `{ courses(filter: {mine: true}) { edges { node { id } } } }`, anonymousOnly},
		{"mine: false", `{ courses(filter: {mine: false, published: true}) { edges { node { id } } } }`, shared},
		{"mine: null", `{ courses(filter: {mine: null}) { edges { node { id } } } }`, shared},
		{"mine as a variable", `query($m: Boolean) { courses(filter: {mine: $m}) { edges { node { id } } } }`, anonymousOnly},
		{"filter as a variable", `query($f: CourseFilter) { courses(filter: $f) { edges { node { id } } } }`, anonymousOnly},
		{"through fragments", `{ courses { edges { node { ...C } } } } fragment C on Course { id ...D } fragment D on Course { enrolled }`, anonymousOnly},
		{"through an inline fragment", `{ course(id: 1) { ... on Course { lectures { video { progress } } } } }`, 0},
		{"a fragment spread twice", `{ a: course(id: 1) { ...C } b: course(id: 2) { ...C } } fragment C on Course { id }`, shared},
		{"mutation", `mutation { enroll(courseId: 1) { enrolledAt } }`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tt.query)
			if errs != nil {
				t.Fatal(errs)
			}
			if got := sharedBy(doc.Operations[0]); got != tt.want {
				t.Errorf("sharedBy = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		user *edustream.User
		want gqlhttp.Class
	}{
		{nil, classPublic},
		{&edustream.User{ID: 1, Role: edustream.RoleStudent}, classStudent},
		{&edustream.User{ID: 1, Role: edustream.RoleInstructor}, 0},
		{&edustream.User{ID: 1, Role: edustream.RoleAdmin}, 0},
		{&edustream.User{ID: 1}, 0},
	}
	for _, tt := range tests {
		if got := classOf(tt.user); got != tt.want {
			t.Errorf("classOf(%+v) = %v, want %v", tt.user, got, tt.want)
		}
	}
}
