package gqlhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/edustream/edustream"
)

// The media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// codeBadUserInput is the extensions.code of every refusal of the request
// itself, as the domain spells it.
const codeBadUserInput = edustream.PublicBadUserInput

// httpTransport serves GraphQL over HTTP as the GraphQL-over-HTTP draft
// specifies, for both response media types:
//
//   - POST with an application/json body (415 otherwise, 413 beyond the body
//     limit); GET with the parameters in the URL, for queries only (405 with
//     Allow: POST for a mutation); other methods 405.
//   - The response is application/graphql-response+json when the Accept
//     header prefers it, and application/json otherwise (also when Accept is
//     missing, */*, or names neither).
//   - A request error (a body or parameters that do not decode, a document
//     that does not parse or validate, variables that do not coerce, a
//     limit) has no data entry. Its status is 400 in
//     application/graphql-response+json; in application/json it is 200 once
//     the parameters decoded (the legacy media type's convention) and 400
//     before.
//   - An executed operation has a data entry (null if a non-null field
//     failed) and status 200, with or without field errors, except that
//     one whose only errors are UNAVAILABLE (a backend down for now) and
//     whose data is null is 503 in application/graphql-response+json. Any
//     UNAVAILABLE error sets Retry-After, whatever the media type.
//
// No error message echoes the body back or names a Go type.
//
// Responses that callers share are answered from the response cache when
// there is one, and are cacheable over HTTP as httpcache.go says.
type httpTransport struct {
	exec    graphql.GraphExecutor
	maxBody int64
	// cache holds the shared responses (nil: none are held).
	cache   *ResponseCache
	sharing Sharing
	// publicCacheControl is the Cache-Control of public responses ("":
	// private like the rest).
	publicCacheControl string
	// metrics counts the requests that never reach the executor (nil: none
	// are counted); the executor's middleware counts the rest.
	metrics *Metrics
}

func (t *httpTransport) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	media := negotiate(r.Header.Values("Accept"))
	h := w.Header()
	h.Add("Vary", varyQuery)
	h.Set("Cache-Control", cacheControlPrivate)
	var params *graphql.RawParams
	var problem string
	status := http.StatusBadRequest
	switch r.Method {
	case http.MethodPost:
		if !isJSON(r.Header.Get("Content-Type")) {
			status, problem = http.StatusUnsupportedMediaType, "POST bodies must be application/json"
			break
		}
		var body []byte
		if body, status, problem = readBody(r, t.maxBody); problem == "" {
			status = http.StatusBadRequest
			params, problem = decodeBody(body)
		}
	case http.MethodGet:
		params, problem = decodeURL(r)
	default:
		w.Header().Set("Allow", "GET, POST")
		status, problem = http.StatusMethodNotAllowed, "use POST, or GET for queries"
	}
	if problem != "" {
		err := &gqlerror.Error{Message: problem, Extensions: map[string]any{"code": codeBadUserInput}}
		t.metrics.rejected(nil, time.Time{}, gqlerror.List{err})
		writeRequestError(w, media, status, err)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	// The metrics time requests from here, as the executor times the ones
	// it runs (graphql.StartOperationTrace below).
	start := params.ReadTime.Start

	class := t.sharing.ClassOf(r.Context())
	var key string
	var gen uint64
	cacheable := t.cache != nil && class != 0
	if cacheable {
		if key, cacheable = responseKey(class, params); cacheable {
			// A document sent with its persisted-query hash registers the
			// hash as it runs; answered from the cache, it would not.
			registers := params.Query != "" && params.Extensions["persistedQuery"] != nil
			if e, ok := t.cache.get(key); ok && !registers {
				t.metrics.cached(e.operation, start)
				t.writeData(w, r, media, class == Public, e)
				return
			}
			gen = t.cache.generation()
		}
	}

	ctx := graphql.StartOperationTrace(r.Context())
	opCtx, errs := t.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := t.exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		t.metrics.rejected(opCtx, start, resp.Errors)
		writeRequestError(w, media, status, resp.Errors...)
		return
	}
	if opCtx.Operation.Operation == ast.Subscription {
		// Over HTTP a subscription would hold the request until its first
		// event, which may never come.
		err := &gqlerror.Error{
			Message:    "subscriptions need a websocket (graphql-transport-ws) on this path",
			Extensions: map[string]any{"code": codeBadUserInput},
		}
		t.metrics.rejected(opCtx, start, gqlerror.List{err})
		writeRequestError(w, media, http.StatusBadRequest, err)
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		err := &gqlerror.Error{
			Message:    "GET requests may carry queries only; send mutations with POST",
			Extensions: map[string]any{"code": codeBadUserInput},
		}
		t.metrics.rejected(opCtx, start, gqlerror.List{err})
		writeRequestError(w, media, http.StatusMethodNotAllowed, err)
		return
	}
	sharedByClass := class != 0 && t.sharing.SharedBy(opCtx.Operation)&class != 0
	keep := cacheable && sharedByClass
	if keep {
		// What is kept is served until the next write empties the cache,
		// so it must show that write: a replica may not have it yet.
		ctx = edustream.NewContextReadingPrimary(ctx)
	}
	responses, ctx := t.exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		// gqlgen answers nothing to an operation whose client went away
		// before it ran: nobody is left to answer (and it is no error).
		edustream.Logger(ctx).Info("graphql operation abandoned by its client before it ran", "operation", opCtx.OperationName)
		w.WriteHeader(statusClientClosedRequest)
		return
	}
	body, ok := dataOnlyBody(resp)
	if !ok {
		// Errors are not cached, and not cacheable.
		writeResponse(w, media, unavailableStatus(w, media, resp), resp)
		return
	}
	e := &cachedResponse{body: body}
	if keep {
		e = newCachedResponse(body)
		e.operation = opCtx.Operation.Name
		t.cache.put(key, e, gen)
	}
	t.writeData(w, r, media, class == Public && sharedByClass, e)
}

// statusClientClosedRequest is nginx's status for a request whose client
// went away, for the access log: no client reads it.
const statusClientClosedRequest = 499

// retryAfterSeconds is the Retry-After of a response that a backend down
// for now failed: long enough for a failover or a connection pool to
// recover, short enough that a user does not notice.
const retryAfterSeconds = "2"

// unavailableStatus is the status of an executed operation's response
// with errors: 200, except that a response whose only errors are
// UNAVAILABLE and that has no data is 503 in
// application/graphql-response+json (the legacy application/json keeps
// 200, as the GraphQL-over-HTTP draft says). Any UNAVAILABLE error sets
// Retry-After, so that clients and proxies can tell it is worth retrying.
func unavailableStatus(w http.ResponseWriter, media string, resp *graphql.Response) int {
	some, all := false, len(resp.Errors) > 0
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		if code == edustream.PublicUnavailable {
			some = true
		} else {
			all = false
		}
	}
	if !some {
		return http.StatusOK
	}
	w.Header().Set("Retry-After", retryAfterSeconds)
	noData := len(resp.Data) == 0 || string(resp.Data) == "null"
	if all && noData && media == mediaGraphQLResponse {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// negotiate picks the response media type from Accept headers: the
// acceptable one with the highest q, application/graphql-response+json on a
// tie if named, and application/json when neither is acceptable (the spec
// lets a server disregard Accept rather than answer 406).
func negotiate(accept []string) string {
	bestJSON, bestGQL := -1.0, -1.0
	namedGQL := false
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil {
					continue
				}
			}
			switch mt {
			case mediaGraphQLResponse:
				bestGQL, namedGQL = max(bestGQL, q), true
			case mediaJSON:
				bestJSON = max(bestJSON, q)
			case "application/*", "*/*":
				// Wildcards stand for the legacy type, which every client
				// that does not name the new one understands.
				bestJSON = max(bestJSON, q)
			}
		}
	}
	if namedGQL && bestGQL > 0 && bestGQL >= bestJSON {
		return mediaGraphQLResponse
	}
	return mediaJSON
}

func readBody(r *http.Request, maxBody int64) ([]byte, int, string) {
	tooLarge := fmt.Sprintf("request body is larger than %d bytes", maxBody)
	if r.ContentLength > maxBody {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	// Sized from Content-Length when the client sent one, so a large
	// document is read without regrowing the buffer.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), maxBody)+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(r.Body, maxBody+1))
	body := buf.Bytes()
	switch {
	case err != nil:
		return nil, http.StatusBadRequest, "could not read the request body"
	case int64(len(body)) > maxBody:
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	return body, 0, ""
}

// decodeBody reads a POST body: a JSON object whose query is a string,
// operationName a string or null, variables and extensions objects or null.
// Unknown members are ignored. The problem, if any, says which rule the
// body broke without quoting it.
func decodeBody(body []byte) (*graphql.RawParams, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, "request body is empty; send a JSON object with a query"
	}
	if !json.Valid(body) {
		return nil, "request body is not valid JSON"
	}
	members := objectMembers(body)
	if members == nil {
		return nil, "request body must be a JSON object"
	}
	params := &graphql.RawParams{}
	if problem := decodeString(members["query"], "query", &params.Query); problem != "" {
		return nil, problem
	}
	if problem := decodeString(members["operationName"], "operationName", &params.OperationName); problem != "" {
		return nil, problem
	}
	if problem := decodeObject(members["variables"], "variables", &params.Variables); problem != "" {
		return nil, problem
	}
	if problem := decodeObject(members["extensions"], "extensions", &params.Extensions); problem != "" {
		return nil, problem
	}
	return params, missingQuery(params)
}

// decodeURL reads the parameters of a GET: the same as decodeBody's, with
// variables and extensions as JSON text.
func decodeURL(r *http.Request) (*graphql.RawParams, string) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, "the query string is not URL-encoded"
	}
	params := &graphql.RawParams{Query: values.Get("query"), OperationName: values.Get("operationName")}
	for name, dst := range map[string]*map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
		v := values.Get(name)
		if v == "" {
			continue
		}
		if !json.Valid([]byte(v)) {
			return nil, name + " is not valid JSON"
		}
		if problem := decodeObject(json.RawMessage(v), name, dst); problem != "" {
			return nil, problem
		}
	}
	return params, missingQuery(params)
}

func missingQuery(params *graphql.RawParams) string {
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		return "query is required"
	}
	return ""
}

func decodeString(raw json.RawMessage, name string, dst *string) string {
	if isNull(raw) {
		return ""
	}
	if raw[0] != '"' {
		return name + " must be a string"
	}
	// The body was valid JSON, so its strings need no second validating
	// scan: json.Unmarshal of a 40 KB document, which a hostile client
	// sends, scanned it twice more (the most of refusing one).
	if inner := raw[1 : len(raw)-1]; utf8.Valid(inner) {
		*dst = unquoteJSON(inner)
		return ""
	}
	if json.Unmarshal(raw, dst) != nil {
		return name + " must be a string"
	}
	return ""
}

func decodeObject(raw json.RawMessage, name string, dst *map[string]any) string {
	if isNull(raw) {
		return ""
	}
	if bytes.TrimSpace(raw)[0] != '{' {
		return name + " must be an object"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(dst) != nil {
		return name + " must be an object"
	}
	return ""
}

// objectMembers returns the members of the object that the valid JSON body
// is, nil if it is not an object, as json.Unmarshal into a map of
// json.RawMessage would, but without scanning the body twice more (once to
// decode, once to copy each member out): a hostile document of 10,000
// tokens is 40 KB of JSON. The values are slices of body.
func objectMembers(body []byte) map[string]json.RawMessage {
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return nil
	}
	members := make(map[string]json.RawMessage, 4)
	for i = skipSpace(body, i+1); body[i] != '}'; i = skipSpace(body, i+1) {
		end := skipString(body, i)
		key := body[i:end]
		i = skipSpace(body, skipSpace(body, end)+1) // past the colon
		end = skipValue(body, i)
		members[memberName(key)] = body[i:end]
		if i = skipSpace(body, end); body[i] == '}' {
			break
		}
	}
	return members
}

// memberName decodes a member's quoted name as encoding/json does.
func memberName(quoted []byte) string {
	if inner := quoted[1 : len(quoted)-1]; utf8.Valid(inner) {
		return unquoteJSON(inner)
	}
	var name string
	json.Unmarshal(quoted, &name) // invalid UTF-8 becomes U+FFFD
	return name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the end of the valid JSON string at b[i:], past its
// closing quote.
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		n := bytes.IndexAny(b[i:], `"\`)
		i += n
		if b[i] == '"' {
			return i + 1
		}
		i++ // the escaped character
	}
}

// skipValue returns the end of the valid JSON value at b[i:].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[i])) {
		i++
	}
	return i
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == mediaJSON
}

// requestError is the body of a request error: errors and no data entry.
type requestError struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func writeRequestError(w http.ResponseWriter, media string, status int, errs ...*gqlerror.Error) {
	writeJSON(w, media, status, requestError{Errors: errs})
}

func writeResponse(w http.ResponseWriter, media string, status int, resp *graphql.Response) {
	if body, ok := dataOnlyBody(resp); ok {
		writeBody(w, media, status, body)
		return
	}
	writeJSON(w, media, status, resp)
}

// dataOnlyBody spells out a response that has data and nothing else (the
// common case) around gqlgen's bytes. encoding/json would scan and compact
// the RawMessage once more (a tenth of a 30 KB catalog's CPU), and gqlgen's
// marshalers already wrote it compact and valid.
func dataOnlyBody(resp *graphql.Response) ([]byte, bool) {
	if len(resp.Errors) > 0 || resp.Label != "" || resp.Path != nil || resp.HasNext != nil || len(resp.Extensions) > 0 || len(resp.Data) == 0 {
		return nil, false
	}
	body := make([]byte, 0, len(`{"data":}`)+len(resp.Data)+1)
	body = append(body, `{"data":`...)
	body = append(body, resp.Data...)
	return append(body, '}', '\n'), true
}

func writeJSON(w http.ResponseWriter, media string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// gqlgen's marshalers wrote the data already; only an error value
		// that cannot be encoded gets here.
		status = http.StatusInternalServerError
		body = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	writeBody(w, media, status, append(body, '\n'))
}

func writeBody(w http.ResponseWriter, media string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", media+"; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// unquoteJSON decodes the inside of a JSON string that a JSON parser has
// accepted (so every escape is well formed) and that is valid UTF-8, as
// encoding/json does: an unpaired surrogate becomes U+FFFD.
func unquoteJSON(inner []byte) string {
	i := bytes.IndexByte(inner, '\\')
	if i < 0 {
		return string(inner)
	}
	var b strings.Builder
	b.Grow(len(inner))
	for i >= 0 {
		b.Write(inner[:i])
		c := inner[i+1]
		inner = inner[i+2:]
		switch c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r := hex4(inner)
			inner = inner[4:]
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if len(inner) >= 6 && inner[0] == '\\' && inner[1] == 'u' {
					if pair := utf16.DecodeRune(r, hex4(inner[2:])); pair != utf8.RuneError {
						r2, inner = pair, inner[6:]
					}
				}
				r = r2
			}
			b.WriteRune(r)
		default: // '"', '\\', '/'
			b.WriteByte(c)
		}
		i = bytes.IndexByte(inner, '\\')
	}
	b.Write(inner)
	return b.String()
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
