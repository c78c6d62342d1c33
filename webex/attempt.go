package webex

import "context"

type attemptKey struct{}

// withAttempt marks ctx as the n-th try of a call.
func withAttempt(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptKey{}, n)
}

// Attempt returns which try of its call a request made by a Client is, from
// the request's context: 1 for the first, 2 for the first retry, 0 for a
// context a Client did not make. A transport given to the Client
// (Config.HTTPClient) reads it to count retries; a retry with a refreshed
// token after a 401 is the same attempt again.
func Attempt(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}
