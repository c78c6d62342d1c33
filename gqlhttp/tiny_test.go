package gqlhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
)

// The tests run the edge over a tiny schema of their own: a shelf of books,
// a greeting that a mutation changes, and the fields each behaviour of the
// edge needs (one per caller, one that fails, one that panics, nested lists
// for the complexity limit, a subscription).
const tinySDL = `
type Query {
	"The same for everyone."
	greeting: String!
	"The caller's name: null for every anonymous caller."
	me: String
	"Moves without an announcement (Mutation.visit): nobody shares it."
	visits: Int!
	books(first: Int = 10): [Book!]!
	book(id: ID!): Book
	count(filter: Filter): Int!
	fail: String
	failHard: String!
	"Fails as a backend down for now would (UNAVAILABLE)."
	unavailable: String!
	panics: String
}

input Filter {
	min: Int
	tags: [Int!]
}

type Book {
	id: ID!
	title: String!
	related(first: Int = 10): [Book!]!
}

type Mutation {
	setGreeting(text: String!): String!
	visit: Int!
	fail: String
}

type Subscription {
	ticks(n: Int!): Int!
	"Sends nothing, and runs until the client or the server ends it."
	idle: Int!
	"Sends 1 to n from a goroutine of its own that notifies the transport (gqlhttp.SubscriptionNotifier)."
	pushed(n: Int!): Int!
	"Asks for a notifier, then fails as a resolver that cannot follow would."
	pushFails: Int!
	"Puts n values of 64 KiB on its channel at once, notifying after each, and says on floods when the last notification returned."
	flood(n: Int!): String!
}
`

var tinySchema = gqlparser.MustLoadSchema(&ast.Source{Name: "tiny.graphqls", Input: tinySDL})

// tiny is the schema's data and resolvers, which a small interpreter of
// validated documents runs in place of gqlgen's generated code.
type tiny struct {
	books []string // titles, never changed; a book's id is its index + 1

	mu       sync.Mutex
	greeting string
	visits   int

	// resolved counts the fields resolved, and primary those resolved
	// reading the primary (edustream.ReadsPrimary).
	resolved, primary atomic.Int64
	// idle counts the idle subscriptions running.
	idle atomic.Int64
	// floods hears from each flood subscription when its notifier
	// returned for the last time.
	floods chan struct{}
}

func newTiny() *tiny {
	return &tiny{greeting: "Hello", books: []string{"Dune", "Emma", "Ulysses", "Beloved", "Middlemarch"}, floods: make(chan struct{}, 10)}
}

func (s *tiny) greetingNow() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.greeting
}

// schema is s for gqlhttp.New, with the tests' error presenter, recover
// func, sharing rule and Int check.
func (s *tiny) schema() gqlhttp.Schema {
	return gqlhttp.Schema{
		Executable: &graphql.ExecutableSchemaMock{
			SchemaFunc:     func() *ast.Schema { return tinySchema },
			ComplexityFunc: tinyComplexity,
			ExecFunc:       s.exec,
		},
		ErrorPresenter: presentTiny,
		Recover:        func(context.Context, any) error { return errPanic },
		Sharing:        tinySharing{},
		ScalarCheck:    checkInt,
	}
}

// tinyComplexity charges the lists at their length, of at most 100 books:
// the shelf is short, but the limit must not depend on that.
func tinyComplexity(_ context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	switch typeName + "." + field {
	case "Query.books", "Book.related":
		if n, ok := intArg(args["first"]); ok {
			return gqlhttp.ListCost(int(min(max(n, 0), 100)), child), true
		}
	}
	return 0, false
}

var errPanic = errors.New("a resolver panicked")

// presentTiny shows domain errors with their code and message, and
// anything else as a bare internal error.
func presentTiny(ctx context.Context, err error) *gqlerror.Error {
	e := *graphql.DefaultErrorPresenter(ctx, err)
	var appErr *edustream.Error
	if errors.As(err, &appErr) {
		e.Message = appErr.Message
		e.Extensions = map[string]any{"code": edustream.PublicCode(appErr.Code)}
	} else {
		e.Message, e.Err = "internal error", nil
		e.Extensions = map[string]any{"code": edustream.PublicInternal}
	}
	return &e
}

// checkInt is the spec's Int: 32 bits.
func checkInt(name string, v any) error {
	if n, ok := intArg(v); name == "Int" && (!ok || n < math.MinInt32 || n > math.MaxInt32) {
		return fmt.Errorf("Int must be a 32-bit integer, got %.20v", v)
	}
	return nil
}

// intArg reads an integer argument or variable as gqlparser and the JSON
// decoder leave it.
func intArg(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case float64:
		return int64(v), v == math.Trunc(v)
	}
	return 0, false
}

// The classes of the tests' callers: anonymous, members, and staff, whose
// reads are their own.
const (
	member   = gqlhttp.Public << 1
	everyone = gqlhttp.Public | member
)

var tinyShared = map[string]gqlhttp.Class{
	"Query.greeting": everyone,
	"Query.books":    everyone,
	"Query.book":     everyone,
	"Query.me":       gqlhttp.Public,
	"Book.id":        everyone,
	"Book.title":     everyone,
	"Book.related":   everyone,
}

type tinySharing struct{}

func (tinySharing) ClassOf(ctx context.Context) gqlhttp.Class {
	switch u := edustream.UserFromContext(ctx); {
	case u == nil:
		return gqlhttp.Public
	case u.Role == edustream.RoleStudent:
		return member
	}
	return 0
}

func (tinySharing) SharedBy(op *ast.OperationDefinition) gqlhttp.Class {
	if op.Operation != ast.Query {
		return 0
	}
	classes := everyone
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.Name != "__typename" {
					classes &= tinyShared[sel.ObjectDefinition.Name+"."+sel.Name]
				}
				walk(sel.SelectionSet)
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				walk(sel.Definition.SelectionSet)
			}
		}
	}
	walk(op.SelectionSet)
	return classes
}

// ChangesSharedReads: setGreeting does, unless it failed; a visit shows in
// no shared read.
func (tinySharing) ChangesSharedReads(oc *graphql.OperationContext, resp *graphql.Response) bool {
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"}) {
		if f.Name != "setGreeting" {
			continue
		}
		failed := false
		for _, e := range resp.Errors {
			failed = failed || len(e.Path) == 1 && e.Path[0] == ast.PathName(f.Alias)
		}
		if !failed {
			return true
		}
	}
	return false
}

func (s *tiny) exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation.Operation == ast.Subscription {
		return s.subscribe(ctx, oc)
	}
	root := tinySchema.Query
	if oc.Operation.Operation == ast.Mutation {
		root = tinySchema.Mutation
	}
	done := false
	return func(ctx context.Context) *graphql.Response {
		if done {
			return nil
		}
		done = true
		data := s.object(ctx, oc, root, nil, oc.Operation.SelectionSet)
		if data == nil {
			data = []byte("null")
		}
		return &graphql.Response{Data: data}
	}
}

// subscribe sends ticks 1 to n, then ends; idle sends nothing until the
// subscription's context ends, when it stops counting (as a real
// resolver's cleanup would: gqlgen may not call the handler again once the
// context is done).
func (s *tiny) subscribe(ctx context.Context, oc *graphql.OperationContext) graphql.ResponseHandler {
	f := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Subscription"})[0]
	if f.Name == "idle" {
		s.idle.Add(1)
		context.AfterFunc(ctx, func() { s.idle.Add(-1) })
		return func(ctx context.Context) *graphql.Response {
			<-ctx.Done()
			return nil
		}
	}
	switch f.Name {
	case "pushed":
		return s.pushed(ctx, f)
	case "flood":
		return s.flood(ctx, f)
	case "pushFails":
		notify := gqlhttp.SubscriptionNotifier(ctx)
		graphql.AddError(ctx, errors.New("cannot follow"))
		notify() // too late: the transport saw the error
		return graphql.OneShot(&graphql.Response{Errors: graphql.GetErrors(ctx)})
	}
	n, _ := intArg(f.ArgumentMap(oc.Variables)["n"])
	var i int64
	return func(context.Context) *graphql.Response {
		if i >= n {
			return nil
		}
		i++
		return &graphql.Response{Data: fmt.Appendf(nil, `{%s:%d}`, jsonString(f.Alias), i)}
	}
}

// pushed sends 1 to n on a channel from a goroutine that stands for an
// event service's delivery: it notifies after each value and after the
// close, and the transport reads the channel then, from that goroutine.
func (s *tiny) pushed(ctx context.Context, f graphql.CollectedField) graphql.ResponseHandler {
	n, _ := intArg(f.ArgumentMap(graphql.GetOperationContext(ctx).Variables)["n"])
	notify := gqlhttp.SubscriptionNotifier(ctx)
	ch := make(chan int64, 1)
	go func() {
		for i := int64(1); i <= n; i++ {
			select {
			case ch <- i:
				notify()
			case <-ctx.Done():
			}
		}
		close(ch)
		notify()
	}()
	return func(ctx context.Context) *graphql.Response {
		select {
		case i, ok := <-ch:
			if !ok {
				return nil
			}
			return &graphql.Response{Data: fmt.Appendf(nil, `{%s:%d}`, jsonString(f.Alias), i)}
		case <-ctx.Done():
			return nil
		}
	}
}

// flood stands for an event service delivering to a subscriber that
// does not read: n values of 64 KiB, far more than the socket's buffers
// hold, each notified from the same goroutine, which reports on s.floods
// when its last notification returned.
func (s *tiny) flood(ctx context.Context, f graphql.CollectedField) graphql.ResponseHandler {
	n, _ := intArg(f.ArgumentMap(graphql.GetOperationContext(ctx).Variables)["n"])
	notify := gqlhttp.SubscriptionNotifier(ctx)
	ch := make(chan int64, n)
	go func() {
		for i := int64(1); i <= n; i++ {
			ch <- i
			notify()
		}
		s.floods <- struct{}{}
	}()
	value := strings.Repeat("x", 64<<10)
	return func(ctx context.Context) *graphql.Response {
		select {
		case <-ch:
			return &graphql.Response{Data: fmt.Appendf(nil, `{%s:%q}`, jsonString(f.Alias), value)}
		case <-ctx.Done():
			return nil
		}
	}
}

type book struct {
	id    int
	title string
}

// object resolves set on a value of type def; nil means null, for a
// non-null field that resolved to null.
func (s *tiny) object(ctx context.Context, oc *graphql.OperationContext, def *ast.Definition, parent any, set ast.SelectionSet) []byte {
	out := []byte{'{'}
	for i, f := range graphql.CollectFields(oc, set, []string{def.Name}) {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(out, jsonString(f.Alias)...), ':')
		if f.Name == "__typename" {
			out = append(out, jsonString(def.Name)...)
			continue
		}
		v := s.field(graphql.WithPathContext(ctx, graphql.NewPathWithField(f.Alias)), oc, def, parent, f)
		if v == nil {
			if f.Definition.Type.NonNull {
				return nil
			}
			v = []byte("null")
		}
		out = append(out, v...)
	}
	return append(out, '}')
}

func (s *tiny) field(ctx context.Context, oc *graphql.OperationContext, def *ast.Definition, parent any, f graphql.CollectedField) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			out = nil
		}
	}()
	s.resolved.Add(1)
	if edustream.ReadsPrimary(ctx) {
		s.primary.Add(1)
	}
	fail := func(err error) []byte {
		graphql.AddError(ctx, err)
		return nil
	}
	args := f.ArgumentMap(oc.Variables)
	switch {
	case f.Name == "__schema":
		return s.value(ctx, oc, f, introspection.WrapSchema(tinySchema))
	case f.Name == "__type":
		name, _ := args["name"].(string)
		if t := tinySchema.Types[name]; t != nil {
			return s.value(ctx, oc, f, introspection.WrapTypeFromDef(tinySchema, t))
		}
		return nil
	case strings.HasPrefix(def.Name, "__"):
		return s.value(ctx, oc, f, introspected(parent, f.Name, args))
	}
	switch def.Name + "." + f.Name {
	case "Query.greeting":
		return jsonString(s.greetingNow())
	case "Query.me":
		if u := edustream.UserFromContext(ctx); u != nil {
			return jsonString(u.Name)
		}
		return nil
	case "Query.visits":
		s.mu.Lock()
		defer s.mu.Unlock()
		return strconv.AppendInt(nil, int64(s.visits), 10)
	case "Query.books":
		n, _ := intArg(args["first"])
		return s.list(ctx, oc, f, s.shelf(0, int(n)))
	case "Query.book":
		id, err := strconv.Atoi(fmt.Sprint(args["id"]))
		if err != nil || id < 1 || id > len(s.books) {
			return fail(edustream.Errorf(edustream.ENOTFOUND, "book %v not found", args["id"]))
		}
		return s.object(ctx, oc, tinySchema.Types["Book"], book{id, s.books[id-1]}, f.Selections)
	case "Query.count":
		filter, _ := args["filter"].(map[string]any)
		tags, _ := filter["tags"].([]any)
		return strconv.AppendInt(nil, int64(len(tags)), 10)
	case "Query.fail", "Mutation.fail":
		return fail(edustream.Errorf(edustream.EINVALID, "it failed"))
	case "Query.failHard":
		return fail(edustream.Errorf(edustream.EINVALID, "hard failure"))
	case "Query.unavailable":
		return fail(edustream.Errorf(edustream.EUNAVAILABLE, "the database is down for now"))
	case "Query.panics":
		panic("boom")
	case "Book.id":
		return jsonString(strconv.Itoa(parent.(book).id))
	case "Book.title":
		return jsonString(parent.(book).title)
	case "Book.related":
		n, _ := intArg(args["first"])
		return s.list(ctx, oc, f, s.shelf(parent.(book).id, int(n)))
	case "Mutation.setGreeting":
		text, _ := args["text"].(string)
		switch {
		case edustream.UserFromContext(ctx) == nil:
			return fail(edustream.Errorf(edustream.EUNAUTHENTICATED, "sign in first"))
		case text == "":
			return fail(edustream.Errorf(edustream.EINVALID, "greeting must not be empty"))
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.greeting = text
		return jsonString(text)
	case "Mutation.visit":
		s.mu.Lock()
		defer s.mu.Unlock()
		s.visits++
		return strconv.AppendInt(nil, int64(s.visits), 10)
	}
	return fail(fmt.Errorf("no resolver for %s.%s", def.Name, f.Name))
}

// shelf returns up to n books after the first skip.
func (s *tiny) shelf(skip, n int) []book {
	var out []book
	for i := skip; i < len(s.books) && len(out) < n; i++ {
		out = append(out, book{i + 1, s.books[i]})
	}
	return out
}

// list resolves f on each of books.
func (s *tiny) list(ctx context.Context, oc *graphql.OperationContext, f graphql.CollectedField, books []book) []byte {
	out := []byte{'['}
	for i, b := range books {
		if i > 0 {
			out = append(out, ',')
		}
		v := s.object(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i)), oc, tinySchema.Types["Book"], b, f.Selections)
		if v == nil {
			return nil
		}
		out = append(out, v...)
	}
	return append(out, ']')
}

// value writes v, one of gqlgen's introspection values, as f selects it.
func (s *tiny) value(ctx context.Context, oc *graphql.OperationContext, f graphql.CollectedField, v any) []byte {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		if rv.Elem().Kind() == reflect.Struct {
			return s.object(ctx, oc, tinySchema.Types[f.Definition.Type.Name()], v, f.Selections)
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.String:
		return jsonString(rv.String())
	case reflect.Bool:
		return strconv.AppendBool(nil, rv.Bool())
	case reflect.Slice:
		out := []byte{'['}
		for i := range rv.Len() {
			if i > 0 {
				out = append(out, ',')
			}
			item := rv.Index(i)
			if item.Kind() == reflect.Struct {
				item = item.Addr()
			}
			v := s.value(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i)), oc, f, item.Interface())
			if v == nil {
				v = []byte("null")
			}
			out = append(out, v...)
		}
		return append(out, ']')
	}
	return nil
}

// introspected is the field name of parent, a pointer to one of gqlgen's
// introspection values: the method of that name, or the struct field.
func introspected(parent any, name string, args map[string]any) any {
	rv := reflect.ValueOf(parent)
	goName := strings.ToUpper(name[:1]) + name[1:]
	method := rv.MethodByName(goName)
	if name == "args" {
		method = rv.MethodByName("VisibleArgs")
	}
	if !method.IsValid() {
		return rv.Elem().FieldByName(goName).Interface()
	}
	var in []reflect.Value
	if method.Type().NumIn() == 1 {
		includeDeprecated, _ := args["includeDeprecated"].(bool)
		in = append(in, reflect.ValueOf(includeDeprecated))
	}
	return method.Call(in)[0].Interface()
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// server is one test's endpoint over a tiny schema.
type server struct {
	*tiny
	handler http.Handler
	// cache is the handler's response cache, if an option gave it one.
	cache *gqlhttp.ResponseCache
}

type option func(*gqlhttp.Schema, *gqlhttp.Config)

func newServer(t *testing.T, opts ...option) *server {
	t.Helper()
	return newServerOn(t, newTiny(), opts...)
}

// newServerOn serves data, which other servers may serve too.
func newServerOn(t *testing.T, data *tiny, opts ...option) *server {
	t.Helper()
	s := data.schema()
	cfg := gqlhttp.Config{Introspection: true}
	for _, o := range opts {
		o(&s, &cfg)
	}
	return &server{tiny: data, handler: gqlhttp.New(s, cfg), cache: cfg.ResponseCache}
}

// withCache makes the server answer shared reads from c.
func withCache(c *gqlhttp.ResponseCache) option {
	return func(_ *gqlhttp.Schema, cfg *gqlhttp.Config) { cfg.ResponseCache = c }
}

// Callers of each class.
var (
	staff = &edustream.User{ID: 1, Name: "Ada", Role: edustream.RoleInstructor}
	alice = &edustream.User{ID: 2, Name: "Alice", Role: edustream.RoleStudent}
	bob   = &edustream.User{ID: 3, Name: "Bob", Role: edustream.RoleStudent}
)

// send makes one request as user (nil: anonymous), with a JSON body if
// it is a POST.
func (s *server) send(t *testing.T, user *edustream.User, method, target string, header http.Header, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != nil {
		req = req.WithContext(edustream.NewContextWithUser(req.Context(), user))
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

// raw makes one request with the Content-Type given, if any.
func (s *server) raw(t *testing.T, user *edustream.User, method, target, contentType string, body []byte) gqlhttptest.Response {
	t.Helper()
	return gqlhttptest.Do(t, s.handler, user, method, target, contentType, body)
}

// post sends a GraphQL POST as user (nil: anonymous).
func (s *server) post(t *testing.T, user *edustream.User, query string, vars map[string]any) gqlhttptest.Response {
	t.Helper()
	return gqlhttptest.Post(t, s.handler, user, query, vars)
}

func (s *server) get(t *testing.T, user *edustream.User, query string) gqlhttptest.Response {
	t.Helper()
	return s.raw(t, user, http.MethodGet, getTarget(query), "", nil)
}

func getTarget(query string) string { return gqlhttptest.GetTarget(query, nil) }

func TestMain(m *testing.M) {
	// The edge logs every operation through slog's default.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
