package gqlhttp

import (
	"context"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/edustream/edustream"
)

// closeLimitExceeded closes a websocket refused by a bound on sockets
// (Config.MaxSockets, MaxSocketsPerUser). graphql-transport-ws reserves
// 4400-4499 for its own refusals (4429 is a second connection_init, not a
// rate); 4029 is outside them, and reads as HTTP's 429. The close reason
// names the bound and says LIMIT_EXCEEDED, as a GraphQL error would.
const closeLimitExceeded = 4029

// Defaults of Config's bounds on websockets and subscriptions. A user's
// tabs and devices share the per-user ones; each instance of the fleet
// counts its own.
const (
	DefaultMaxSockets              = 10000
	DefaultMaxSocketsPerUser       = 20
	DefaultMaxSubscriptions        = 50000
	DefaultMaxSubscriptionsPerUser = 100
)

// bounds counts the websockets and subscriptions of one endpoint against
// Config's caps. Sockets are counted from the upgrade (process) and from
// connection_init (user); subscriptions from their start to their end.
// Anonymous subscriptions count per socket, as if each were a user.
type bounds struct {
	maxSockets, maxSocketsPerUser             int
	maxSubscriptions, maxSubscriptionsPerUser int
	metrics                                   *Metrics

	mu            sync.Mutex
	sockets, subs int
	userSockets   map[int64]int
	userSubs      map[any]int // user id (int64) or *socketSlot
}

func newBounds(cfg Config) *bounds {
	return &bounds{
		maxSockets: cfg.MaxSockets, maxSocketsPerUser: cfg.MaxSocketsPerUser,
		maxSubscriptions: cfg.MaxSubscriptions, maxSubscriptionsPerUser: cfg.MaxSubscriptionsPerUser,
		metrics:     cfg.Metrics,
		userSockets: map[int64]int{}, userSubs: map[any]int{},
	}
}

// socketSlot is one websocket's place in the counts, in its request's
// context from the upgrade on.
type socketSlot struct {
	b *bounds
	// refusal, when set, is why the socket is refused (the process has
	// too many): it is closed as soon as it is accepted.
	refusal string
	// user is the id the socket counts against once connection_init
	// authenticated it (0: anonymous, or not yet).
	user int64
}

type socketSlotKey struct{}

func socketSlotFrom(ctx context.Context) *socketSlot {
	s, _ := ctx.Value(socketSlotKey{}).(*socketSlot)
	return s
}

// openSocket takes a process slot for a websocket about to be accepted.
// The returned context carries it; release gives back what it took,
// including the user's slot taken at connection_init.
func (b *bounds) openSocket(ctx context.Context) (context.Context, func()) {
	s := &socketSlot{b: b}
	b.mu.Lock()
	if b.sockets >= b.maxSockets {
		s.refusal = fmt.Sprintf("LIMIT_EXCEEDED: this server holds its maximum of %d websockets; retry later", b.maxSockets)
	} else {
		b.sockets++
	}
	b.mu.Unlock()
	if s.refusal != "" {
		b.metrics.websocketRefused(refusedSocketLimit)
	}
	return context.WithValue(ctx, socketSlotKey{}, s), func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if s.refusal == "" {
			b.sockets--
		}
		if s.user != 0 {
			if b.userSockets[s.user]--; b.userSockets[s.user] <= 0 {
				delete(b.userSockets, s.user)
			}
		}
	}
}

// bindUser counts the socket against user u, or says why it may not.
func (s *socketSlot) bindUser(u int64) error {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.user != 0 {
		return nil
	}
	if b.userSockets[u] >= b.maxSocketsPerUser {
		return edustream.Errorf(edustream.ELIMIT, "LIMIT_EXCEEDED: at most %d websockets per user; close another first", b.maxSocketsPerUser)
	}
	b.userSockets[u]++
	s.user = u
	return nil
}

// aroundSubscription counts a subscription against the process's and its
// user's caps before anything of it runs, and refuses it, with an error
// message of code LIMIT_EXCEEDED that names the bound, past either.
func (b *bounds) aroundSubscription(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	slot := socketSlotFrom(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription || slot == nil {
		// Subscriptions come over websockets only: the HTTP transport
		// refuses them before they run.
		return next(ctx)
	}
	var key any = slot
	if u := edustream.UserFromContext(ctx); u != nil {
		key = u.ID
	}
	b.mu.Lock()
	var refusal string
	switch {
	case b.subs >= b.maxSubscriptions:
		refusal = fmt.Sprintf("this server holds its maximum of %d subscriptions; retry later", b.maxSubscriptions)
	case b.userSubs[key] >= b.maxSubscriptionsPerUser:
		refusal = fmt.Sprintf("at most %d subscriptions per user; complete another first", b.maxSubscriptionsPerUser)
	default:
		b.subs++
		b.userSubs[key]++
	}
	b.mu.Unlock()
	if refusal != "" {
		err := &gqlerror.Error{Message: refusal, Extensions: map[string]any{"code": edustream.PublicLimitExceeded}}
		b.metrics.websocketRefused(refusedSubscriptionLimit)
		b.metrics.countErrorsOf(gqlerror.List{err})
		// An error message, not next and complete: nothing ran, and
		// clients (graphql-ws's sink.error) treat it as the operation's
		// failure.
		EndSubscription(ctx, err)
		return func(context.Context) *graphql.Response { return nil }
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.subs--
			if b.userSubs[key]--; b.userSubs[key] <= 0 {
				delete(b.userSubs, key)
			}
		})
	}
	// The transport cancels ctx when the subscription ends, whichever
	// side ends it.
	context.AfterFunc(ctx, release)
	respond := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := respond(ctx)
		if resp == nil {
			release()
		}
		return resp
	}
}
