// Package scalar holds the GraphQL scalar mappings gqlgen binds to: IDs are
// int64 row ids on the inside and decimal strings on the wire; Int is the
// spec's signed 32-bit integer, never more.
package scalar

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
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

// MarshalInt writes an int as a GraphQL Int. A value beyond 32 bits, which
// clients would read wrongly, is logged and sent as null instead: for Int!
// gqlgen turns that into a field error. Small values, such as lecture
// positions, share prebuilt marshalers, so the catalog allocates nothing
// for them.
func MarshalInt(i int) graphql.Marshaler {
	if i >= 0 && i < len(smallInts) {
		return smallInts[i]
	}
	if i < math.MinInt32 || i > math.MaxInt32 {
		slog.Error("an Int result is beyond 32 bits; sending null", "value", i)
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) { io.WriteString(w, strconv.Itoa(i)) })
}

var smallInts [1024]graphql.Marshaler

func init() {
	for i := range smallInts {
		s := strconv.Itoa(i)
		smallInts[i] = graphql.WriterFunc(func(w io.Writer) { io.WriteString(w, s) })
	}
}

// UnmarshalInt reads a GraphQL Int: an integer literal or JSON number
// between -2^31 and 2^31-1. Strings, fractions and larger numbers are
// EINVALID, so the caller gets BAD_USER_INPUT.
func UnmarshalInt(v any) (int, error) {
	var n int64
	var ok bool
	switch v := v.(type) {
	case int:
		n, ok = int64(v), true
	case int32:
		n, ok = int64(v), true
	case int64:
		n, ok = v, true
	case json.Number:
		parsed, err := strconv.ParseInt(string(v), 10, 64)
		n, ok = parsed, err == nil
	case float64:
		// Only from a JSON decoder without UseNumber; whole values only.
		n, ok = int64(v), v == math.Trunc(v) && math.Abs(v) <= 1<<53
	}
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, edustream.Errorf(edustream.EINVALID, "Int must be a 32-bit integer (-2147483648 to 2147483647), got %s", IntText(v))
	}
	return int(n), nil
}

// IntText shows a rejected Int input briefly, without echoing a long value.
func IntText(v any) string {
	var s string
	switch v := v.(type) {
	case string:
		s = strconv.Quote(v)
	case nil:
		s = "null"
	default:
		s = fmt.Sprint(v)
	}
	if len(s) > 24 {
		s = s[:24] + "…"
	}
	return s
}
