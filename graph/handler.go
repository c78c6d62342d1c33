package graph

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

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
	// MaxSelections caps the field selections and fragment spreads of a
	// document, counting a fragment's at every spread (and once for its
	// definition), so that fragments cannot make a document select more
	// than its tokens could spell out.
	MaxSelections int
	// MaxBodyBytes caps a POST body; larger ones get 413.
	MaxBodyBytes int64
	// WebsocketInitTimeout is how long a websocket may take to send
	// connection_init.
	WebsocketInitTimeout time.Duration
	// AllowedOrigins are the SPA origins (e.g. https://app.example.com) that
	// may open a websocket from another host; same-host pages always may.
	AllowedOrigins []string
	// Auth checks the token a websocket client sends in connection_init.
	Auth edustream.Authenticator
	// WriteMarks, when set, sends a user's reads to the primary for a while
	// after they wrote (see edustream.WriteMarks). Leave nil without a replica.
	WriteMarks edustream.WriteMarks
	// ResponseCache holds the responses that callers share (nil: none are
	// held). Mutations empty it, here and on every instance.
	ResponseCache *ResponseCache
	// PublicMaxAge is how long a CDN may keep a GET response that every
	// anonymous caller shares (Cache-Control: public). Zero means
	// DefaultPublicMaxAge; negative keeps them private like the rest.
	PublicMaxAge time.Duration
}

// Defaults for Config.
const (
	DefaultComplexityLimit = 50000
	DefaultMaxDepth        = 12
	DefaultTokenLimit      = 10000
	DefaultMaxSelections   = DefaultTokenLimit
	DefaultMaxBodyBytes    = 1 << 20
)

// NewHandler returns the /query endpoint: POST and GET (queries only) over
// HTTP, and websockets with the graphql-transport-ws protocol. Documents
// are priced before validation and costed before execution; see limits.go.
func NewHandler(cfg Config, r *Resolver) http.Handler {
	cfg = cfg.withDefaults()
	es := generated.NewExecutableSchema(generated.Config{Resolvers: r, Complexity: complexity()})
	ruleSet := validationRules(es.Schema(), cfg.Introspection)
	cache := lru.New[*ast.QueryDocument](1000)

	inner := executor.New(es)
	inner.SetQueryCache(cache)
	inner.SetParserTokenLimit(cfg.TokenLimit)
	inner.SetDisableSuggestion(!cfg.Introspection)
	inner.SetDefaultRulesFn(rulesFunc(ruleSet))
	inner.SetErrorPresenter(presentError)
	inner.SetRecoverFunc(recoverPanic)
	if cfg.Introspection {
		inner.Use(extension.Introspection{})
	}
	inner.Use(costLimit{es: es, max: cfg.ComplexityLimit, introspection: cfg.Introspection})
	inner.AroundOperations(aroundOperation(r, cfg.WriteMarks, cfg.ResponseCache))
	inner.AroundResponses(boundErrors)

	exec := &guardedExecutor{
		Executor:          inner,
		es:                es,
		schema:            es.Schema(),
		cache:             cache,
		apq:               extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)},
		rules:             ruleSet,
		rulesWithoutMerge: withoutMergeRules(ruleSet),
		tokenLimit:        cfg.TokenLimit,
		maxDepth:          cfg.MaxDepth,
		maxSelections:     cfg.MaxSelections,
		complexityLimit:   cfg.ComplexityLimit,
	}
	ws := transport.Websocket{
		Implementation: checkedWebsocket{transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: originHosts(cfg.AllowedOrigins)},
		}},
		InitFunc:              websocketInit(cfg.Auth),
		InitTimeout:           cfg.WebsocketInitTimeout,
		KeepAlivePingInterval: 15 * time.Second,
	}
	h := &httpTransport{exec: exec, maxBody: cfg.MaxBodyBytes, cache: cfg.ResponseCache, publicCacheControl: cacheControlPublic(cfg.PublicMaxAge)}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if ws.Supports(req) {
			ws.Do(w, req, exec)
			return
		}
		h.ServeHTTP(w, req)
	})
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
	if c.MaxSelections <= 0 {
		c.MaxSelections = DefaultMaxSelections
	}
	if c.WebsocketInitTimeout <= 0 {
		c.WebsocketInitTimeout = 10 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.PublicMaxAge == 0 {
		c.PublicMaxAge = DefaultPublicMaxAge
	}
	return c
}

// aroundOperation prepares each operation: fresh dataloaders, the
// read-your-writes routing of edustream.ReadsPrimary, and a log line naming
// the operation. The name goes on that line only, not into a logger of
// the operation's own: building one cost every request a handler clone,
// for the rare resolver that logs (and the request id and user id, which
// that line carries, find the operation).
func aroundOperation(r *Resolver, marks edustream.WriteMarks, cache *ResponseCache) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		u := edustream.UserFromContext(ctx)
		isMutation := oc.Operation != nil && oc.Operation.Operation == ast.Mutation
		log := edustream.Logger(ctx)

		switch {
		case isMutation:
			ctx = edustream.NewContextReadingPrimary(ctx)
		case u != nil && marks != nil && !edustream.ReadsPrimary(ctx):
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
		if !isSubscription {
			// A subscription's resolver builds loaders for its own checks
			// (withFreshLoaders), and each event gets new ones below.
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
			if isMutation && cache != nil && changesSharedReads(oc, resp) {
				// Before the answer: the caller's next read, on any
				// instance, must show the write.
				cache.Invalidate(ctx, edustream.ContentChange{})
			}
			if isMutation && u != nil && marks != nil {
				if err := marks.MarkWrite(ctx, u.ID); err != nil {
					log.Warn("mark write; this user may read stale data from the replica for a moment", "error", err)
				}
			}
			if resp != nil && oc.Operation != nil && !isSubscription {
				log.Info("graphql", "operation", oc.OperationName, "type", string(oc.Operation.Operation), "duration", time.Since(start), "errors", len(resp.Errors))
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
