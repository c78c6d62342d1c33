// Package gqlhttp is GraphQL over HTTP and websockets for any gqlgen schema:
// the transports (POST and GET as the GraphQL-over-HTTP draft says,
// graphql-transport-ws), the pricing and limits that keep hostile documents
// cheap, validation, HTTP caching and the cache of responses that callers
// share. What depends on the schema (its resolvers, complexity table, error
// presenter, per-operation context and which responses callers may share)
// comes in a Schema.
package gqlhttp

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/edustream/edustream"
)

// Schema is a gqlgen schema with what the edge needs to know of it. Only
// Executable is required.
type Schema struct {
	// Executable is the schema, with its resolvers and complexity table
	// (see ListCost).
	Executable graphql.ExecutableSchema
	// ErrorPresenter presents the errors resolvers return (nil: gqlgen's
	// default). Errors about the document itself (syntax, validation,
	// limits) are presented here, as BAD_USER_INPUT with their reason.
	ErrorPresenter graphql.ErrorPresenterFunc
	// Recover turns a resolver's panic into the error presented in its
	// place (nil: gqlgen's default).
	Recover graphql.RecoverFunc
	// AroundOperations prepares each operation's context, e.g. with fresh
	// dataloaders, and may act once it has answered. It runs inside the
	// edge's own middleware, which logs the operation and empties the
	// response cache after a mutation that changed shared reads.
	AroundOperations graphql.OperationMiddleware
	// Sharing says which responses callers may share (nil: none, and no
	// response is public over HTTP).
	Sharing Sharing
	// ScalarCheck, when set, refuses the value of a variable of the named
	// scalar, at any depth of lists and input objects, as a request error
	// before any resolver runs. Its error's message is shown to the caller.
	ScalarCheck func(scalar string, value any) error
}

// Config sets the limits and switches of the endpoint. Zero values take the
// defaults below.
type Config struct {
	// Introspection enables __schema and __type, and the validation
	// messages that suggest names ("Did you mean …").
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
	// Auth checks the token a websocket client sends in connection_init
	// (nil: only anonymous websockets).
	Auth edustream.Authenticator
	// ResponseCache holds the responses that callers share (nil: none are
	// held). Mutations empty it, here and on every instance.
	ResponseCache *ResponseCache
	// PublicMaxAge is how long a CDN may keep a GET response that every
	// anonymous caller shares (Cache-Control: public). Zero means
	// DefaultPublicMaxAge; negative keeps them private like the rest.
	PublicMaxAge time.Duration
	// Metrics measures the endpoint (nil: not measured).
	Metrics *Metrics
	// MaxSockets caps the websockets open on this process, and
	// MaxSocketsPerUser those of one user (counted from connection_init);
	// a socket past either is closed with 4029 and a reason that names the
	// bound.
	MaxSockets, MaxSocketsPerUser int
	// MaxSubscriptions caps the subscriptions running on this process, and
	// MaxSubscriptionsPerUser those of one user (an anonymous socket
	// counts as a user); one past either gets an error message with code
	// LIMIT_EXCEEDED before anything of it runs.
	MaxSubscriptions, MaxSubscriptionsPerUser int
}

// Defaults for Config.
const (
	DefaultComplexityLimit = 50000
	DefaultMaxDepth        = 12
	DefaultTokenLimit      = 10000
	DefaultMaxSelections   = DefaultTokenLimit
	DefaultMaxBodyBytes    = 1 << 20
)

// New returns the GraphQL endpoint of s: POST and GET (queries only) over
// HTTP, and websockets with the graphql-transport-ws protocol. Documents
// are priced before validation and costed before execution; see limits.go.
func New(s Schema, cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	es := s.Executable
	sharing := s.Sharing
	if sharing == nil {
		sharing = shareNothing{}
	}
	ruleSet := validationRules(es.Schema(), cfg.Introspection)
	cache := lru.New[*ast.QueryDocument](1000)

	inner := executor.New(es)
	inner.SetQueryCache(cache)
	inner.SetParserTokenLimit(cfg.TokenLimit)
	inner.SetDisableSuggestion(!cfg.Introspection)
	inner.SetDefaultRulesFn(rulesFunc(ruleSet))
	inner.SetErrorPresenter(presenter(s.ErrorPresenter))
	if s.Recover != nil {
		inner.SetRecoverFunc(s.Recover)
	}
	if cfg.Introspection {
		inner.Use(extension.Introspection{})
	}
	inner.Use(costLimit{es: es, max: cfg.ComplexityLimit, introspection: cfg.Introspection, scalarCheck: s.ScalarCheck})
	// First: the operation's span covers the others' work.
	inner.Use(tracing{})
	// Before the metrics: a refused subscription is counted as a refusal,
	// not as one that ran.
	bounds := newBounds(cfg)
	inner.AroundOperations(bounds.aroundSubscription)
	// The first is the outermost: the log line's duration covers the
	// schema's preparations too, and the metrics' cover the log line.
	if cfg.Metrics != nil {
		inner.AroundOperations(cfg.Metrics.aroundOperation)
	}
	inner.AroundOperations(aroundOperation(sharing, cfg.ResponseCache))
	if s.AroundOperations != nil {
		inner.AroundOperations(s.AroundOperations)
	}
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
	ws := newWSTransport(cfg, bounds)
	h := &httpTransport{exec: exec, maxBody: cfg.MaxBodyBytes, cache: cfg.ResponseCache, sharing: sharing,
		publicCacheControl: cacheControlPublic(cfg.PublicMaxAge), metrics: cfg.Metrics}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if ws.Supports(req) {
			// Do returns when the connection ends.
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
	if c.MaxSockets <= 0 {
		c.MaxSockets = DefaultMaxSockets
	}
	if c.MaxSocketsPerUser <= 0 {
		c.MaxSocketsPerUser = DefaultMaxSocketsPerUser
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.MaxSubscriptionsPerUser <= 0 {
		c.MaxSubscriptionsPerUser = DefaultMaxSubscriptionsPerUser
	}
	if c.PublicMaxAge == 0 {
		c.PublicMaxAge = DefaultPublicMaxAge
	}
	return c
}

// aroundOperation empties the response cache after a mutation that changed
// what shared reads show, and logs each operation. The name goes on that
// line only, not into a logger of the operation's own: building one cost
// every request a handler clone, for the rare resolver that logs (and the
// request id and user id, which that line carries, find the operation).
func aroundOperation(sharing Sharing, cache *ResponseCache) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		isMutation := oc.Operation != nil && oc.Operation.Operation == ast.Mutation
		isSubscription := oc.Operation != nil && oc.Operation.Operation == ast.Subscription
		start := time.Now()
		respond := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			resp := respond(ctx)
			if isMutation && cache != nil && resp != nil && sharing.ChangesSharedReads(oc, resp) {
				// Before the answer: the caller's next read, on any
				// instance, must show the write.
				cache.Invalidate(ctx, edustream.ContentChange{})
			}
			if resp != nil && oc.Operation != nil && !isSubscription {
				edustream.Logger(ctx).Info("graphql", "operation", oc.OperationName, "type", string(oc.Operation.Operation),
					"duration", time.Since(start), "errors", len(resp.Errors))
			}
			return resp
		}
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
