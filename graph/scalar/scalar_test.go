package scalar_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph/scalar"
)

func TestUnmarshalInt(t *testing.T) {
	tests := []struct {
		in   any
		want int
		ok   bool
	}{
		{int64(0), 0, true},
		{int64(math.MaxInt32), math.MaxInt32, true},
		{int64(math.MinInt32), math.MinInt32, true},
		{int64(math.MaxInt32 + 1), 0, false},
		{int64(math.MinInt32 - 1), 0, false},
		{int64(1 << 40), 0, false},
		{7, 7, true},
		{json.Number("42"), 42, true},
		{json.Number("2147483648"), 0, false},
		{json.Number("99999999999999999999999"), 0, false},
		{json.Number("1.5"), 0, false},
		{json.Number("1e3"), 0, false},
		{float64(12), 12, true},
		{float64(1.5), 0, false},
		{"12", 0, false},
		{true, 0, false},
		{nil, 0, false},
	}
	for _, tt := range tests {
		got, err := scalar.UnmarshalInt(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("UnmarshalInt(%#v) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		if !tt.ok && (edustream.ErrorCode(err) != edustream.EINVALID || !strings.Contains(edustream.ErrorMessage(err), "32-bit")) {
			t.Errorf("UnmarshalInt(%#v) = %d, %v; want EINVALID", tt.in, got, err)
		}
	}
	_, err := scalar.UnmarshalInt(json.Number(strings.Repeat("9", 5000)))
	if msg := edustream.ErrorMessage(err); len(msg) > 120 {
		t.Errorf("the error echoes the input: %d bytes", len(msg))
	}
}

func TestMarshalInt(t *testing.T) {
	for in, want := range map[int]string{0: "0", 7: "7", 1023: "1023", 1024: "1024", -5: "-5", math.MaxInt32: "2147483647", math.MinInt32: "-2147483648"} {
		var b bytes.Buffer
		scalar.MarshalInt(in).MarshalGQL(&b)
		if b.String() != want {
			t.Errorf("MarshalInt(%d) = %q, want %s", in, b.String(), want)
		}
	}
	for _, in := range []int{math.MaxInt32 + 1, math.MinInt32 - 1} {
		if m := scalar.MarshalInt(in); m != graphql.Null {
			t.Errorf("MarshalInt(%d) is not null", in)
		}
	}
	if n := testing.AllocsPerRun(100, func() { scalar.MarshalInt(42) }); n != 0 {
		t.Errorf("MarshalInt(42) allocates %v times", n)
	}
}
