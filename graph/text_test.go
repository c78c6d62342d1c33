package graph_test

import (
	"strings"
	"testing"
)

// User-visible text is refused with BAD_USER_INPUT naming the field, or
// stored in its normal form (see edustream.NormalizeText).
func TestTextInputs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.seedCourse(t, b.instructor, "Existing", 1, false)
	lecture := func() string {
		r := b.post(t, b.instructor, `query($id: ID!) { course(id: $id) { lectures { id } } }`, map[string]any{"id": idOf(c)}).NoErrors(t)
		return r.Data["course"].(map[string]any)["lectures"].([]any)[0].(map[string]any)["id"].(string)
	}()
	refused := []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"NUL in a course title", `mutation($t: String!) { createCourse(input: {title: $t}) { id } }`, map[string]any{"t": "Go\x00"}, "course title"},
		{"escape sequence in a course title", `mutation($t: String!) { createCourse(input: {title: $t}) { id } }`, map[string]any{"t": "\x1b[2J"}, "course title"},
		{"newline in a course title", `mutation($t: String!) { createCourse(input: {title: $t}) { id } }`, map[string]any{"t": "a\nb"}, "course title"},
		{"bidi override in a course description", `mutation($d: String!) { createCourse(input: {title: "x", description: $d}) { id } }`, map[string]any{"d": "\u202Egnp.exe"}, "course description"},
		{"BEL in a course update", `mutation($id: ID!, $t: String!) { updateCourse(id: $id, input: {title: $t}) { id } }`, map[string]any{"id": idOf(c), "t": "ding\a"}, "course title"},
		{"bidi isolate in a lecture title", `mutation($c: ID!, $t: String!) { createLecture(input: {courseId: $c, title: $t}) { id } }`, map[string]any{"c": idOf(c), "t": "\u2067x"}, "lecture title"},
		{"NUL in a lecture description update", `mutation($id: ID!, $d: String!) { updateLecture(id: $id, input: {description: $d}) { id } }`, map[string]any{"id": lecture, "d": "\x00"}, "lecture description"},
		{"escape in a string literal", `mutation { createCourse(input: {title: "\u001b[31m"}) { id } }`, nil, "course title"},
	}
	before := b.snapshot(t)
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(t, b.instructor, tt.query, tt.vars)
			if r.Code(t) != "BAD_USER_INPUT" || !strings.HasPrefix(r.Errors[0].Message, tt.field+" ") {
				t.Errorf("got %s, want BAD_USER_INPUT naming %s", r.Raw, tt.field)
			}
		})
	}
	if after := b.snapshot(t); after != before {
		t.Errorf("refused text changed the database")
	}

	r := b.post(t, b.instructor, `mutation($t: String!, $d: String!) { createCourse(input: {title: $t, description: $d}) { title description } }`,
		map[string]any{"t": "  Cafe\u0301 ", "d": "line one\r\nline two\r\n\tindented"}).NoErrors(t)
	got := r.Data["createCourse"].(map[string]any)
	if got["title"] != "Café" || got["description"] != "line one\nline two\n\tindented" {
		t.Errorf("stored %q / %q, want the title in NFC, trimmed, and LF line breaks", got["title"], got["description"])
	}
}
