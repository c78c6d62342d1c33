// Package edustream is the domain of EduStream: courses, lectures, users and
// enrollments, the rules of who may see and change them, the error codes every
// transport maps, and the interfaces the adapters (storage, jobs, server,
// graph) implement or consume. It imports no adapter.
package edustream

import "time"

// Limits on user-supplied text. They are part of the public contract: clients
// validate against the same numbers.
const (
	MaxTitleLength       = 200
	MaxDescriptionLength = 10000
	// MaxLecturesPerCourse bounds the lecture list, so the GraphQL complexity
	// estimate of a course's lectures is a real upper bound.
	MaxLecturesPerCourse = 500
)

// Clock returns the current time; storage takes it as a parameter so tests can
// pin it.
type Clock func() time.Time

// The GraphQL code in graph/generated and graph/model is generated from
// schema.graphqls; CI checks that regenerating leaves no diff.
//go:generate go tool gqlgen generate --config gqlgen.yml
