package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
)

// Which responses may be shared between callers, from the rules in the
// domain's policy.go and the resolvers:
//
//   - Anonymous callers are indistinguishable: whatever one is shown,
//     every one is. Where a field depends on the viewer, an anonymous
//     caller gets a fixed answer: me and email are null, enrolled is
//     false, the signed video URLs are null (CanWatchLecture needs a
//     user), and the uploader's fields (error, fileName) are null.
//   - Students see what anonymous callers see (published courses only: no
//     student has drafts, CanEditCourse needs an instructor or admin, so
//     error and fileName are null for them too), except where a field
//     depends on which student asks: me, enrolled, email (a student who
//     also teaches sees their own), the video URLs (signed for enrolled
//     students only), and courses(filter: {mine: true}).
//   - Instructors and admins share nothing: they see drafts (their own, or
//     all), the uploader's fields, and their reads must show their own
//     writes at once.
//
// A field not named below is shared by no one: a new field is private
// until someone decides otherwise here. The same holds for fields whose
// value changes without a content announcement (a video's progress and
// the updatedAt it moves), and for every field of live sessions (their
// status follows the clock; their join details depend on enrollment).

// The classes of callers who may share responses.
const (
	classPublic  = gqlhttp.Public      // anonymous callers
	classStudent = gqlhttp.Public << 1 // signed-in students
)

// sharing is the rule above, for gqlhttp.
type sharing struct{}

func (sharing) ClassOf(ctx context.Context) gqlhttp.Class {
	return classOf(edustream.UserFromContext(ctx))
}

func (sharing) SharedBy(op *ast.OperationDefinition) gqlhttp.Class { return sharedBy(op) }

func (sharing) ChangesSharedReads(oc *graphql.OperationContext, resp *graphql.Response) bool {
	return changesSharedReads(oc, resp)
}

// classOf returns the class of u (nil: anonymous), or 0 when u's reads
// are u's own.
func classOf(u *edustream.User) gqlhttp.Class {
	switch {
	case u == nil:
		return classPublic
	case u.Role == edustream.RoleStudent:
		return classStudent
	}
	return 0
}

type typeField struct{ typ, field string }

const (
	shared        = classPublic | classStudent
	anonymousOnly = classPublic
)

// sharedFields says, for each field that may be shared, among which
// callers it is.
var sharedFields = map[typeField]gqlhttp.Class{
	{"Query", "courses"}: shared, // see coursesSharing for its filter
	{"Query", "course"}:  shared,
	{"Query", "lecture"}: shared,
	{"Query", "me"}:      anonymousOnly,

	{"CourseConnection", "edges"}:    shared,
	{"CourseConnection", "pageInfo"}: shared,
	{"CourseEdge", "cursor"}:         shared,
	{"CourseEdge", "node"}:           shared,
	{"PageInfo", "hasNextPage"}:      shared,
	{"PageInfo", "endCursor"}:        shared,

	{"Course", "id"}:          shared,
	{"Course", "title"}:       shared,
	{"Course", "description"}: shared,
	{"Course", "published"}:   shared,
	{"Course", "publishedAt"}: shared,
	{"Course", "createdAt"}:   shared,
	{"Course", "updatedAt"}:   shared,
	{"Course", "instructor"}:  shared,
	{"Course", "lectures"}:    shared,
	{"Course", "enrolled"}:    anonymousOnly,

	{"User", "id"}:    shared,
	{"User", "name"}:  shared,
	{"User", "role"}:  shared,
	{"User", "email"}: anonymousOnly,

	{"Lecture", "id"}:          shared,
	{"Lecture", "position"}:    shared,
	{"Lecture", "title"}:       shared,
	{"Lecture", "description"}: shared,
	{"Lecture", "createdAt"}:   shared,
	{"Lecture", "updatedAt"}:   shared,
	{"Lecture", "course"}:      shared,
	{"Lecture", "video"}:       shared,
	{"Lecture", "nextVideo"}:   shared,

	{"Video", "id"}:              shared,
	{"Video", "status"}:          shared,
	{"Video", "stage"}:           shared,
	{"Video", "durationSeconds"}: shared,
	{"Video", "width"}:           shared,
	{"Video", "height"}:          shared,
	{"Video", "renditions"}:      shared,
	{"Video", "sizeBytes"}:       shared,
	{"Video", "createdAt"}:       shared,
	{"Video", "error"}:           shared,
	{"Video", "fileName"}:        shared,
	{"Video", "thumbnailUrl"}:    anonymousOnly,
	{"Video", "storyboardUrl"}:   anonymousOnly,
	{"Video", "playbackUrl"}:     anonymousOnly,
	// Captions change through the mutations and the chain, which
	// announce it (edustream.Captions); url is signed like playbackUrl,
	// error is the editors' like Video.error.
	{"Video", "captions"}:   shared,
	{"Caption", "id"}:       shared,
	{"Caption", "language"}: shared,
	{"Caption", "label"}:    shared,
	{"Caption", "kind"}:     shared,
	{"Caption", "source"}:   shared,
	{"Caption", "status"}:   shared,
	{"Caption", "error"}:    shared,
	{"Caption", "url"}:      anonymousOnly,

	{"Rendition", "name"}:    shared,
	{"Rendition", "width"}:   shared,
	{"Rendition", "height"}:  shared,
	{"Rendition", "bitrate"}: shared,
	{"Rendition", "codecs"}:  shared,
}

// sharedBy returns the classes among whose callers every response to op
// is the same: only queries, and only when every field it may select is
// shared by the class. op must come from a validated document, whose
// fields know their object types.
func sharedBy(op *ast.OperationDefinition) gqlhttp.Class {
	if op == nil || op.Operation != ast.Query {
		return 0
	}
	w := sharingWalk{classes: shared, seen: map[string]bool{}}
	w.selections(op.SelectionSet)
	return w.classes
}

type sharingWalk struct {
	classes gqlhttp.Class
	// seen are the fragments walked already: a fragment's fields narrow
	// the classes the same way at every spread.
	seen map[string]bool
}

func (w *sharingWalk) selections(set ast.SelectionSet) {
	for _, sel := range set {
		if w.classes == 0 {
			return
		}
		switch sel := sel.(type) {
		case *ast.Field:
			w.field(sel)
		case *ast.InlineFragment:
			w.selections(sel.SelectionSet)
		case *ast.FragmentSpread:
			if w.seen[sel.Name] || sel.Definition == nil {
				continue
			}
			w.seen[sel.Name] = true
			w.selections(sel.Definition.SelectionSet)
		}
	}
}

func (w *sharingWalk) field(f *ast.Field) {
	if f.Name == "__typename" {
		return
	}
	if f.ObjectDefinition == nil {
		w.classes = 0
		return
	}
	classes := sharedFields[typeField{f.ObjectDefinition.Name, f.Name}]
	if f.ObjectDefinition.Name == "Query" && f.Name == "courses" {
		classes &= coursesSharing(f)
	}
	w.classes &= classes
	w.selections(f.SelectionSet)
}

// coursesSharing narrows Query.courses by its filter: mine: true makes the
// page the caller's own. A filter given as a variable might say so; an
// anonymous caller asking for it gets an error, which is never shared.
func coursesSharing(f *ast.Field) gqlhttp.Class {
	arg := f.Arguments.ForName("filter")
	if arg == nil || arg.Value == nil || arg.Value.Kind == ast.NullValue {
		return shared
	}
	if arg.Value.Kind != ast.ObjectValue {
		return anonymousOnly
	}
	for _, member := range arg.Value.Children {
		if member.Name != "mine" {
			continue
		}
		v := member.Value
		if v.Kind == ast.NullValue || (v.Kind == ast.BooleanValue && v.Raw == "false") {
			return shared
		}
		return anonymousOnly
	}
	return shared
}

// sharedReadsUnchanged are the mutations that change nothing a shared read
// shows: an enrollment shows only in enrolled (not shared among
// students, false for anonymous callers), a new course is a draft, and
// live sessions and progress are never shared. Every other mutation empties the
// response caches; a new one does too until it is listed here.
var sharedReadsUnchanged = map[string]bool{
	"enroll":            true,
	"createCourse":      true,
	"createLiveSession": true,
	"updateLiveSession": true,
	"cancelLiveSession": true,
	// A beat changes only its viewer's progress, which no shared read
	// shows: at a beat every ten seconds per viewer, emptying every
	// instance's cache would leave nothing cached.
	"recordWatch": true,
}

// changesSharedReads reports whether a mutation operation may have changed
// what shared reads show: whether one of its fields that may have resolved
// without an error. A refused mutation changes nothing, and must not let
// anyone empty every instance's cache at will.
func changesSharedReads(oc *graphql.OperationContext, resp *graphql.Response) bool {
	if resp == nil {
		return false
	}
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"}) {
		if !sharedReadsUnchanged[f.Name] && !failed(resp, f.Alias) {
			return true
		}
	}
	return false
}

// failed reports whether the root field alias itself failed: an error on
// a field of its payload (the course's instructor, say) comes after the
// write, which still happened.
func failed(resp *graphql.Response, alias string) bool {
	for _, e := range resp.Errors {
		if len(e.Path) == 1 && e.Path[0] == ast.PathName(alias) {
			return true
		}
	}
	return false
}
