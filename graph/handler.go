package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/graph/generated"
)

// Config sets the limits and switches of the GraphQL endpoint. Zero values
// take the defaults below.
type Config struct {
	// Introspection enables __schema and __type (on in dev; a deployment
	// decides).
	Introspection bool
	// ComplexityLimit caps the estimated cost of one operation, with lists
	// counted at their length.
	ComplexityLimit int
	// MaxDepth caps how deeply fields nest.
	MaxDepth int
	// TokenLimit caps the tokens the parser reads from one document.
	TokenLimit int
	// MaxBodyBytes caps a POST body; larger ones get 413.
	MaxBodyBytes int64
	// AllowedOrigins are the SPA origins (e.g. https://app.example.com) that
	// may open a websocket from another host; same-host pages always may.
	AllowedOrigins []string
	// Auth checks the token a websocket client sends in connection_init.
	Auth edustream.Authenticator
	// WriteMarks, when set, sends a user's reads to the primary for a while
	// after they wrote (see edustream.WriteMarks). Leave nil without a replica.
	WriteMarks edustream.WriteMarks
}

// Defaults for Config.
const (
	DefaultComplexityLimit = 50000
	DefaultMaxDepth        = 12
	DefaultTokenLimit      = 10000
	DefaultMaxBodyBytes    = 1 << 20
)

// NewHandler returns the /query endpoint: POST and GET (queries only) over
// HTTP, and websockets with the graphql-transport-ws protocol.
func NewHandler(cfg Config, r *Resolver) http.Handler {
	cfg = cfg.withDefaults()
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r, Complexity: complexity()}))
	srv.AddTransport(transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: originHosts(cfg.AllowedOrigins)},
		},
		InitFunc:              websocketInit(cfg.Auth),
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: 15 * time.Second,
	})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})

	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(cfg.TokenLimit)
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(recoverPanic)
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(noIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	// Depth first: it is the cheaper check, and it keeps the complexity
	// arithmetic of absurd documents from ever running.
	srv.Use(depthLimit{Max: cfg.MaxDepth})
	srv.Use(extension.FixedComplexityLimit(cfg.ComplexityLimit))
	srv.AroundOperations(aroundOperation(r, cfg.WriteMarks))

	return &httpGuard{next: srv, maxBody: cfg.MaxBodyBytes}
}

func (c Config) withDefaults() Config {
	if c.ComplexityLimit <= 0 {
		c.ComplexityLimit = DefaultComplexityLimit
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.TokenLimit <= 0 {
		c.TokenLimit = DefaultTokenLimit
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return c
}

// aroundOperation prepares each operation: fresh dataloaders, the
// read-your-writes routing of edustream.ReadsPrimary, and a log line naming
// the operation.
func aroundOperation(r *Resolver, marks edustream.WriteMarks) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		u := edustream.UserFromContext(ctx)
		isMutation := oc.Operation != nil && oc.Operation.Operation == ast.Mutation
		log := edustream.Logger(ctx).With("operation", oc.OperationName)
		ctx = edustream.NewContextWithLogger(ctx, log)

		switch {
		case isMutation:
			ctx = edustream.NewContextReadingPrimary(ctx)
		case u != nil && marks != nil:
			wrote, err := marks.WroteRecently(ctx, u.ID)
			if err != nil {
				// Reading the primary is always correct, only dearer.
				log.Warn("read write mark; reading the primary", "error", err)
			}
			if wrote || err != nil {
				ctx = edustream.NewContextReadingPrimary(ctx)
			}
		}
		isSubscription := oc.Operation != nil && oc.Operation.Operation == ast.Subscription
		if isSubscription {
			ctx = withLoaderFactory(ctx, r, u)
		} else {
			ctx = withLoaders(ctx, newLoaders(r, u))
		}

		start := time.Now()
		respond := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			if isSubscription {
				// gqlgen calls this once per event: each event's fields
				// resolve with fresh loaders, or an hour-old subscription
				// would serve the course as it was when it started.
				ctx = withLoaders(ctx, newLoaders(r, u))
			}
			resp := respond(ctx)
			if isMutation && u != nil && marks != nil {
				if err := marks.MarkWrite(ctx, u.ID); err != nil {
					log.Warn("mark write; this user may read stale data from the replica for a moment", "error", err)
				}
			}
			if resp != nil && oc.Operation != nil && !isSubscription {
				log.Info("graphql", "type", string(oc.Operation.Operation), "duration", time.Since(start), "errors", len(resp.Errors))
			}
			return resp
		}
	}
}

// websocketInit authenticates a websocket from the Authorization entry of its
// connection_init payload. A connection without one is anonymous; a bad token
// closes it with 4403, as graphql-transport-ws prescribes.
func websocketInit(auth edustream.Authenticator) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		header := p.Authorization()
		if header == "" {
			return ctx, nil, nil
		}
		token, ok := edustream.BearerToken(header)
		if !ok || auth == nil {
			return transport.WithWebsocketCloseCode(ctx, 4403), nil, fmt.Errorf("authorization must be a bearer token")
		}
		u, err := auth.Authenticate(ctx, token)
		if err != nil {
			return transport.WithWebsocketCloseCode(ctx, 4403), nil, fmt.Errorf("%s", edustream.ErrorMessage(err))
		}
		return edustream.NewContextWithUser(ctx, u), nil, nil
	}
}

// originHosts turns SPA origins into the host patterns coder/websocket
// matches the Origin header against.
func originHosts(origins []string) []string {
	var hosts []string
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			hosts = append(hosts, u.Host)
		} else {
			hosts = append(hosts, o)
		}
	}
	return hosts
}

// httpGuard refuses, before gqlgen sees them, the requests gqlgen would
// answer badly: oversized bodies (413 instead of a truncated read),
// malformed JSON (a coded error instead of one that echoes the body back),
// other content types (415) and methods (405), and mutations over GET (405,
// as GraphQL over HTTP requires).
type httpGuard struct {
	next    http.Handler
	maxBody int64
}

func (g *httpGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		if !isJSON(r.Header.Get("Content-Type")) {
			writeError(w, http.StatusUnsupportedMediaType, "POST bodies must be application/json")
			return
		}
		if r.ContentLength > g.maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", g.maxBody))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, g.maxBody+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "could not read the request body")
			return
		}
		if int64(len(body)) > g.maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", g.maxBody))
			return
		}
		if !json.Valid(body) {
			writeError(w, http.StatusBadRequest, "request body is not valid JSON")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	case http.MethodGet:
		params := r.URL.Query()
		for _, name := range []string{"variables", "extensions"} {
			if v := params.Get(name); v != "" && !json.Valid([]byte(v)) {
				writeError(w, http.StatusBadRequest, name+" is not valid JSON")
				return
			}
		}
		if q := params.Get("query"); q != "" && !isQueryOperation(q, params.Get("operationName")) {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "GET requests may carry queries only; send mutations with POST")
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "use POST, or GET for queries")
		return
	}
	g.next.ServeHTTP(w, r)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// isQueryOperation reports whether the operation a GET would run is a query.
// A document that does not parse is let through for gqlgen to report.
func isQueryOperation(query, operationName string) bool {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, DefaultTokenLimit)
	if err != nil {
		return true
	}
	if op := doc.Operations.ForName(operationName); op != nil {
		return op.Operation == ast.Query
	}
	for _, op := range doc.Operations {
		if op.Operation != ast.Query {
			return false
		}
	}
	return true
}

// writeError answers with a GraphQL-shaped error, coded BAD_USER_INPUT: every
// refusal here is about the shape of the caller's request.
func writeError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message":    message,
			"extensions": map[string]any{"code": CodeBadUserInput},
		}},
	})
}
