// Package scalar holds the GraphQL scalar mappings gqlgen binds to: IDs are
// int64 row ids on the inside and decimal strings on the wire.
package scalar

import (
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/edustream/edustream"
)

// MarshalID writes an int64 id as a GraphQL ID string.
func MarshalID(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(strconv.FormatInt(id, 10)))
	})
}

// UnmarshalID reads a GraphQL ID (a decimal string, or an integer literal) as
// an int64 id. Anything else is EINVALID, so a garbage id is the caller's
// mistake and not a server error.
func UnmarshalID(v any) (int64, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	case int:
		s = strconv.Itoa(v)
	default:
		s = fmt.Sprint(v)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return 0, edustream.Errorf(edustream.EINVALID, "invalid id %q", s)
	}
	return id, nil
}
