package graph_test

import "testing"

// Pagination edge cases: first: 0 returns no edges and no cursor, and
// hasNextPage says whether any course follows the cursor.
func TestPaginationEdges(t *testing.T) {
	t.Parallel()
	empty := setup(t)
	b := setup(t)
	var ids []string
	for _, title := range []string{"One", "Two", "Three"} {
		ids = append(ids, idOf(b.seedCourse(t, b.instructor, title, 0, true)))
	}
	cursorOf := func(id string) string {
		var after any
		for {
			r := b.post(t, b.student, `query($a: String) { courses(first: 1, after: $a) { edges { cursor node { id } } } }`, map[string]any{"a": after}).NoErrors(t)
			e := r.Data["courses"].(map[string]any)["edges"].([]any)[0].(map[string]any)
			if e["node"].(map[string]any)["id"] == id {
				return e["cursor"].(string)
			}
			after = e["cursor"]
		}
	}
	oldest, newest := cursorOf(ids[0]), cursorOf(ids[2])
	const page = `query($n: Int, $a: String) { courses(first: $n, after: $a) { edges { cursor } pageInfo { hasNextPage endCursor } } }`
	tests := []struct {
		name     string
		b        *bundle
		first    int
		after    any
		edges    int
		next     bool
		noCursor bool
	}{
		{"first 0 of a catalog", b, 0, nil, 0, true, true},
		{"first 0 of an empty catalog", empty, 0, nil, 0, false, true},
		{"first 0 after the newest", b, 0, newest, 0, true, true},
		{"first 0 after the oldest", b, 0, oldest, 0, false, true},
		{"a full page with more", b, 2, nil, 2, true, false},
		{"an exact last page", b, 2, newest, 2, false, false},
		{"after the oldest", b, 5, oldest, 0, false, true},
		{"more than there is", b, 100, nil, 3, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.b.post(t, tt.b.student, page, map[string]any{"n": tt.first, "a": tt.after}).NoErrors(t)
			conn := r.Data["courses"].(map[string]any)
			info := conn["pageInfo"].(map[string]any)
			edges := conn["edges"].([]any)
			if len(edges) != tt.edges || info["hasNextPage"] != tt.next || (info["endCursor"] == nil) != tt.noCursor {
				t.Errorf("got %d edges, pageInfo %v; want %d edges, hasNextPage %v, endCursor null %v", len(edges), info, tt.edges, tt.next, tt.noCursor)
			}
			if len(edges) > 0 && info["endCursor"] != edges[len(edges)-1].(map[string]any)["cursor"] {
				t.Errorf("endCursor %v is not the last edge's cursor", info["endCursor"])
			}
		})
	}
	for _, first := range []int{-1, 101} {
		if r := b.post(t, b.student, page, map[string]any{"n": first}); r.Code(t) != "BAD_USER_INPUT" {
			t.Errorf("first: %d: %s", first, r.Raw)
		}
	}
}
