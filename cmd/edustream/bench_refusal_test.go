package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// refusedDocuments are the hostile documents of issue 8 and their kin; the
// graph package's TestHostileDocuments checks that each is refused.
func refusedDocuments() []struct{ name, query string } {
	var fan, aliases, bomb, unknown, chain, tokens, late strings.Builder
	// Just under the token limit and valid up to its last field: refusing
	// it takes every step (scan, parse, price, validate).
	late.WriteString("{ ")
	for i := range 3300 {
		fmt.Fprintf(&late, "a%d: __typename ", i)
	}
	late.WriteString("nope }")
	tokens.WriteString("{ ")
	for i := range 2000 {
		fmt.Fprintf(&tokens, "a%d: me { id } ", i)
	}
	tokens.WriteString("}")
	fan.WriteString("query { course(id: 1) { ...F29 } }\nfragment F0 on Course { id }\n")
	for i := 1; i <= 29; i++ {
		fmt.Fprintf(&fan, "fragment F%d on Course { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	aliases.WriteString("{ ")
	for i := range 849 {
		fmt.Fprintf(&aliases, `c: course(id:"%d"){id} `, i+1)
	}
	aliases.WriteString("}")
	bomb.WriteString("{ ")
	for i := range 300 {
		fmt.Fprintf(&bomb, "a%d: courses(first: 100) { edges { node { lectures { title } } } } ", i)
	}
	bomb.WriteString("}")
	unknown.WriteString("{ ")
	for i := range 1000 {
		fmt.Fprintf(&unknown, "f%d ", i)
	}
	unknown.WriteString("}")
	chain.WriteString("query { course(id: 1) { ...C499 } }\nfragment C0 on Course { id title }\n")
	for i := 1; i < 500; i++ {
		fmt.Fprintf(&chain, "fragment C%d on Course { id ...C%d }\n", i, i-1)
	}
	return []struct{ name, query string }{
		{"fan-out", fan.String()},
		{"fragment-chain", chain.String()},
		{"conflicting-aliases", aliases.String()},
		{"typename-9000", "{ " + strings.Repeat("__typename ", 9000) + "}"},
		{"directives-3000", "{ me " + strings.Repeat("@a ", 3000) + "{ id } }"},
		{"unknown-fields-1000", unknown.String()},
		{"aliases-x-lists", bomb.String()},
		{"token-limit", tokens.String()},
		{"late-error", late.String()},
	}
}

// BenchmarkRefusal is the time to refuse each hostile document through the
// real handler, next to the valid catalog query it must not cost more
// than (in CPU time per request, cpu-ns/op, compared in
// internal/cmd/alternate's rounds). Results: docs/benchmarks-edge.md.
func BenchmarkRefusal(b *testing.B) {
	forEachEngine(b, func(b *testing.B, env *benchEnv) {
		catalog, _ := json.Marshal(map[string]string{"query": benchCatalogQuery})
		b.Run("catalog", func(b *testing.B) {
			env.post(b, catalog, "Lecture 0.9")
			parallel(b, func() { env.post(b, catalog, "Lecture 0.9") })
		})
		for _, doc := range refusedDocuments() {
			next := uniqueBodies(doc.query)
			b.Run(doc.name, func(b *testing.B) {
				body := next()
				env.refuse(b, body)
				b.SetBytes(int64(len(body)))
				parallel(b, func() { env.refuse(b, next()) })
			})
		}
	})
}

// uniqueBodies returns request bodies for query that differ in a leading
// comment, so that no cache can answer for the work being measured (a
// refused document is never cached; a valid one would be).
func uniqueBodies(query string) func() []byte {
	quoted, _ := json.Marshal(query)
	var n atomic.Int64
	return func() []byte {
		body := fmt.Appendf(make([]byte, 0, len(quoted)+32), `{"query":"#%d\n`, n.Add(1))
		return append(append(body, quoted[1:]...), '}')
	}
}

// refuse posts a document that must come back as a request error.
func (env *benchEnv) refuse(b *testing.B, body []byte) {
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+env.token)
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || bytes.Contains(rec.Body.Bytes(), []byte(`"data"`)) {
		b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
	}
}
