package gqlhttp

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/edustream/edustream"
)

// wsOperation is one operation of a websocket, from subscribe to its end.
//
// gqlgen answers a subscription with a function that blocks on the
// resolver's channel for each event. Calling it from a goroutine per
// subscription is what gqlgen's transport did, and what made an idle
// subscription cost a goroutine. A resolver that calls
// SubscriptionNotifier instead says when its channel holds something:
// the notifying goroutine (the event service's delivery) then calls the
// function, which returns at once, and writes the event itself. Other
// operations (queries, mutations, subscriptions whose resolver does not
// notify) run on a goroutine of their own, as with gqlgen.
type wsOperation struct {
	k      *wsConn
	id     string
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// responses yields the operation's responses, nil once it ended; set
	// once the operation is dispatched.
	responses graphql.ResponseHandler
	// push says the resolver notifies (see SubscriptionNotifier).
	push bool
	// pending counts the notifications not delivered yet; draining says a
	// goroutine delivers them (one at a time: responses is not safe for
	// concurrent calls).
	pending  int
	draining bool
	// errs end the operation with an error message (EndSubscription).
	errs gqlerror.List
	// done says the operation ended; byClient that the client completed
	// it, which is not answered.
	done, byClient bool
}

type wsOperationKey struct{}

func wsOperationFrom(ctx context.Context) *wsOperation {
	op, _ := ctx.Value(wsOperationKey{}).(*wsOperation)
	return op
}

// start runs operation id (its place in k.ops already taken) with the
// subscribe payload.
func (k *wsConn) start(id string, payload json.RawMessage, readStart time.Time) {
	exec := k.exec
	params := &graphql.RawParams{}
	if err := json.Unmarshal(payload, params); err != nil {
		// validSubscribePayload let it through; a type it did not check
		// (a number as operationName's) fails here.
		k.forget(id, nil)
		k.send(id, "error", gqlerror.List{{Message: "invalid subscribe payload: " + err.Error(), Extensions: map[string]any{"code": edustream.PublicBadUserInput}}})
		return
	}
	params.Headers = k.headers
	params.ReadTime = graphql.TraceTiming{Start: readStart, End: graphql.Now()}
	ctx := graphql.StartOperationTrace(k.ctx)
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		k.forget(id, nil)
		// As gqlgen's transport: a document refused before it ran is the
		// operation's failure (error); one whose variables do not fit
		// is a result with errors.
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			k.send(id, "error", resp.Errors)
		} else {
			k.send(id, "next", resp)
			k.send(id, "complete", nil)
		}
		return
	}
	op := &wsOperation{k: k, id: id}
	ctx, op.cancel = context.WithCancel(graphql.WithOperationContext(ctx, rc))
	ctx = context.WithValue(ctx, wsOperationKey{}, op)
	op.ctx = ctx
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		op.cancel()
		return
	}
	k.ops[id] = op
	k.mu.Unlock()

	responses, ctx := exec.DispatchOperation(ctx, rc)
	op.mu.Lock()
	op.responses, op.ctx = responses, ctx
	if !op.push {
		op.mu.Unlock()
		go op.run()
		return
	}
	// What the resolver notified while it ran (its first event) is
	// delivered now, on this goroutine.
	deliver := op.pending > 0 && !op.draining && !op.done
	op.draining = deliver
	op.mu.Unlock()
	if deliver {
		op.drain()
	}
}

// run delivers every response of an operation whose resolver does not
// notify, on a goroutine of its own.
func (op *wsOperation) run() {
	defer op.recoverPanic()
	for {
		resp := op.responses(op.ctx)
		if resp == nil {
			break
		}
		op.k.send(op.id, "next", resp)
	}
	op.finish()
}

// failedWhileDispatching notes an error presented before the operation
// was dispatched: its resolver, or its arguments, failed, and gqlgen answers
// with the error in place of the resolver's channel. The operation is
// then run as any other, and notifications are ignored.
func (op *wsOperation) failedWhileDispatching() {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.responses == nil {
		op.push = false
	}
}

// notify is what SubscriptionNotifier returns: one more value, or the
// channel's close, to deliver. It never blocks: unless a goroutine already
// delivers the operation's responses, it starts one, which lives only
// while there is something to write. So an idle subscription costs no
// goroutine, and a client that reads slowly holds up its own deliveries
// (until the write timeout disconnects it), never the event fan-out that
// notifies every other subscriber of the instance.
func (op *wsOperation) notify() {
	op.mu.Lock()
	if !op.push {
		// The resolver failed after asking: there is no channel to read.
		op.mu.Unlock()
		return
	}
	op.pending++
	if op.responses == nil || op.draining || op.done {
		op.mu.Unlock()
		return
	}
	op.draining = true
	op.mu.Unlock()
	go op.drain()
}

// drain delivers the pending notifications; called with draining set.
func (op *wsOperation) drain() {
	defer op.recoverPanic()
	for {
		op.mu.Lock()
		if op.pending == 0 || op.done {
			op.draining = false
			op.mu.Unlock()
			return
		}
		op.pending--
		op.mu.Unlock()
		// The channel holds what was notified: this does not block.
		resp := op.responses(op.ctx)
		if resp == nil {
			op.finish()
			continue
		}
		op.k.send(op.id, "next", resp)
	}
}

// recoverPanic ends the operation with an INTERNAL error after a panic
// outside the resolvers (theirs are recovered by gqlgen, and presented).
func (op *wsOperation) recoverPanic() {
	r := recover()
	if r == nil {
		return
	}
	edustream.Logger(op.ctx).Error("websocket: panic delivering an operation", slog.Any("panic", r))
	op.mu.Lock()
	op.errs = append(op.errs, &gqlerror.Error{Message: "internal system error", Extensions: map[string]any{"code": edustream.PublicInternal}})
	op.draining = false
	op.mu.Unlock()
	op.finish()
}

// completedByClient ends the operation the client completed.
func (op *wsOperation) completedByClient() {
	op.mu.Lock()
	op.byClient = true
	op.mu.Unlock()
	op.finish()
}

// finish ends the operation, once: its context is cancelled (the
// resolver stops, the bounds give back its place), its id may be used
// again, and the client is told, with the errors of EndSubscription if
// any, unless it asked or the connection is closing.
func (op *wsOperation) finish() {
	op.mu.Lock()
	if op.done {
		op.mu.Unlock()
		return
	}
	op.done = true
	errs, byClient := op.errs, op.byClient
	op.mu.Unlock()
	op.cancel()
	k := op.k
	k.forget(op.id, op)
	if byClient || k.ctx.Err() != nil {
		return
	}
	if len(errs) > 0 {
		k.send(op.id, "error", errs)
	} else {
		k.send(op.id, "complete", nil)
	}
}

// forget frees id, if op (nil: a place taken for an operation that did
// not start) holds it.
func (k *wsConn) forget(id string, op *wsOperation) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cur, ok := k.ops[id]; ok && cur == op {
		delete(k.ops, id)
	}
}

// SubscriptionNotifier lets a subscription resolver deliver its events
// without a goroutine waiting on its channel. The resolver calls it before
// anything can be put on its channel, and then calls the returned function
// after each value it puts there and once after closing it (a resolver
// that returns an error instead of its channel may have called it: the
// transport notices the error). The function returns at once: the
// response is marshalled and written by a goroutine of the operation's
// while it has something to write, the write bounded by a timeout (a
// client that reads too slowly is disconnected). Outside this endpoint's websockets it
// returns a function that does nothing, and the operation is read as
// gqlgen reads any.
func SubscriptionNotifier(ctx context.Context) (notify func()) {
	op := wsOperationFrom(ctx)
	if op == nil {
		return func() {}
	}
	op.mu.Lock()
	op.push = true
	op.mu.Unlock()
	return op.notify
}

// EndSubscription makes the subscription of ctx end with an error message
// carrying err (already presented: its message and extensions are sent as
// they are) in place of complete, once its resolver's channel closes. It
// reports whether it could: only subscriptions over a websocket of this
// endpoint end that way.
func EndSubscription(ctx context.Context, err *gqlerror.Error) bool {
	op := wsOperationFrom(ctx)
	if op == nil {
		return false
	}
	op.mu.Lock()
	op.errs = append(op.errs, err)
	op.mu.Unlock()
	return true
}
