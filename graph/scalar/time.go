package scalar

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/edustream/edustream"
)

// MarshalTime writes a time as gqlgen does: RFC 3339 with the fraction it
// has, null for the zero time.
func MarshalTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }

// UnmarshalTime reads an RFC 3339 timestamp as gqlgen does, but refuses
// anything else with EINVALID, so a malformed startsAt is the caller's
// mistake (BAD_USER_INPUT) and not a server error.
func UnmarshalTime(v any) (time.Time, error) {
	t, err := graphql.UnmarshalTime(v)
	if err != nil {
		return time.Time{}, edustream.Errorf(edustream.EINVALID, "a Time must be an RFC 3339 timestamp such as 2030-01-02T15:04:05Z")
	}
	return t, nil
}
