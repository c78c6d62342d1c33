package gqlhttp

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// unquoteJSON must decode every string exactly as encoding/json does.
func TestUnquoteJSON(t *testing.T) {
	t.Parallel()
	cases := []string{
		``, `plain`, `#1\n{ me { id } }`, `\"\\\/\b\f\n\r\t`, `\u0041\u00e9\u20AC`,
		`\ud83d\ude00`,              // a surrogate pair: 😀
		`\ud83d`,                    // a high surrogate alone, at the end
		`\ud83dx`,                   // … before a plain character
		`\ud83d\u0041`,              // … before an escape that is no low surrogate
		`\ude00\ud83d`,              // the pair reversed
		`\ud83d\ud83d\ude00`,        // two highs, then a low
		`é€😀 \\u0041 end\\`,         // non-ASCII bytes, an escaped backslash before u
		`\uD83D\uDE00\u00E9`,        // upper-case hex
		`{\"query\": \"\u0022\"}\n`, // JSON inside GraphQL inside JSON
	}
	for _, in := range cases {
		checkUnquote(t, []byte(in))
	}
	// Random strings of the characters escapes are made of.
	alphabet := []string{`\n`, `\\`, `\"`, `\/`, `\u0000`, `\ud800`, `\udfff`, `\ud834\udd1e`, `\uFFFF`, `a`, `é`, `u`, `d8`, ` `}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var s []byte
		for range rng.IntN(12) {
			s = append(s, alphabet[rng.IntN(len(alphabet))]...)
		}
		checkUnquote(t, s)
	}
}

func checkUnquote(t *testing.T, inner []byte) {
	t.Helper()
	raw := append(append([]byte{'"'}, inner...), '"')
	var want string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("%s is not a JSON string: %v", raw, err)
	}
	if !utf8.Valid(inner) {
		t.Fatalf("%q: the test's strings are UTF-8", inner)
	}
	if got := unquoteJSON(inner); got != want {
		t.Errorf("unquoteJSON(%s) = %q, want %q", inner, got, want)
	}
	var got string
	if problem := decodeString(raw, "query", &got); problem != "" || got != want {
		t.Errorf("decodeString(%s) = %q, %q; want %q", raw, got, problem, want)
	}
}
