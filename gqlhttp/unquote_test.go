package gqlhttp

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
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

// objectMembers must find the members json.Unmarshal finds, in any valid
// JSON.
func TestObjectMembers(t *testing.T) {
	t.Parallel()
	bodies := []string{
		`{}`, ` { } `, `{"query":"{ a }"}`, "\t{\n\"query\" : \"x\\\"}\" ,\r\n\"variables\":{\"a\":[1,{\"b\":\"]}\"}],\"c\":null} }",
		`{"query":"a","query":"b"}`, // the last one wins
		`{"\u0071uery":"{ a }","extensions":{"persistedQuery":{"version":1}}}`,
		`{"operationName":null,"n":-1.5e3,"t":true,"f":false,"a":[],"o":{},"s":"\\"}`,
		`{"k\ud800":1}`, "{\"\xff\":1}", // names that encoding/json repairs
		`[]`, `null`, `"query"`, `1`, // not objects
	}
	keys := []string{`"query"`, `"\u0071uery"`, `"a\"b\\"`, `"variables"`}
	values := []string{`"s"`, `"a\"b\\"`, `1`, `-0.5e-3`, `true`, `null`, `[1,"]",{"x":"}"}]`, `{"a":{"b":[]}}`, `"\u00e9\ud83d\ude00"`, `""`}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		var b strings.Builder
		b.WriteString("{")
		for i := range rng.IntN(5) {
			if i > 0 {
				b.WriteString(" ,\n")
			}
			fmt.Fprintf(&b, `%s :%s`, keys[rng.IntN(len(keys))], values[rng.IntN(len(values))])
		}
		b.WriteString(" } ")
		bodies = append(bodies, b.String())
	}
	for _, body := range bodies {
		var want map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			if _, ok := err.(*json.UnmarshalTypeError); !ok {
				t.Fatalf("%s: %v", body, err)
			}
		}
		got := objectMembers([]byte(body))
		if (got == nil) != (want == nil) || len(got) != len(want) {
			t.Errorf("objectMembers(%s) = %q, json.Unmarshal %q", body, got, want)
			continue
		}
		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Errorf("objectMembers(%s)[%q] = %s, json.Unmarshal %s", body, k, got[k], v)
			}
		}
	}
}
