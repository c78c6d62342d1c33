package graph

import (
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/edustream/edustream/graph/generated"
)

// Every field of progress depends on who asks: none is shared, whoever
// the caller, and a document that selects one is answered afresh.
func TestProgressIsNeverShared(t *testing.T) {
	t.Parallel()
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	for _, q := range []string{
		`{ lecture(id: 1) { myProgress { positionSeconds } } }`,
		`{ course(id: 1) { myProgress { completedLectures } } }`,
		`{ course(id: 1) { lectures { analytics { viewers retention } } } }`,
		`{ course(id: 1) { analytics { enrolled lectures { completionRate } } } }`,
		`{ course(id: 1) { students { edges { node { user { name } } } } } }`,
		`{ me { continueWatching { id } } }`,
	} {
		doc, errs := gqlparser.LoadQuery(schema, q)
		if errs != nil {
			t.Fatal(errs)
		}
		if got := sharedBy(doc.Operations[0]); got != 0 {
			t.Errorf("%s is shared by %v", q, got)
		}
	}
	if !sharedReadsUnchanged["recordWatch"] {
		t.Error("recordWatch empties the response caches")
	}
}
