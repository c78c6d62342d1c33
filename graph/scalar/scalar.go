// Package scalar holds the GraphQL scalar mappings gqlgen binds to: IDs are
// int64 row ids on the inside and decimal strings on the wire.
package scalar

import (
	"encoding/json"
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

// MarshalLong writes an int64 as a JSON number.
func MarshalLong(n int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
}

// UnmarshalLong reads a Long: a JSON integer (or a decimal string, which
// clients that fear precision loss may send). Anything else is EINVALID.
func UnmarshalLong(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, nil
		}
	case float64:
		if v == float64(int64(v)) && v >= -(1<<53) && v <= 1<<53 {
			return int64(v), nil
		}
	}
	return 0, edustream.Errorf(edustream.EINVALID, "a Long must be an integer")
}
