package graph_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/gqlhttp/gqlhttptest"
	"github.com/edustream/edustream/graph"
	"github.com/edustream/edustream/server"
	"github.com/edustream/edustream/storage/sqldb"
)

const wsSecret = "websocket-test-secret-of-32-bytes-or-more"

// withTokens checks the server's JWTs, signed with wsSecret, on
// connection_init.
func withTokens(c *graph.Config, r *graph.Resolver) {
	c.Auth = server.NewAuthenticator(server.NewHS256Verifier([]byte(wsSecret), "", ""), r.UserService.(*sqldb.UserService), nil)
}

// wsServer serves the GraphQL handler with real token checks on
// connection_init.
func wsServer(t *testing.T) *httptest.Server {
	t.Helper()
	return serve(t, setup(t, withTokens))
}

// serve serves b's handler until the test ends.
func serve(t *testing.T, b *bundle) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	return srv
}

// token signs a JWT for the user with wsSecret.
func token(t *testing.T, subject string, role edustream.Role, name string) string {
	t.Helper()
	tok, err := server.IssueToken([]byte(wsSecret), edustream.Claims{Subject: subject, Role: role, Name: name}, "", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// subscribe opens a websocket to srv as the bearer of tok, and starts
// query with vars as operation "1".
func subscribe(t *testing.T, ctx context.Context, srv *httptest.Server, tok, query string, vars map[string]any) *websocket.Conn {
	t.Helper()
	c := gqlhttptest.Open(t, ctx, srv.URL)
	gqlhttptest.Init(t, ctx, c, map[string]any{"Authorization": "Bearer " + tok})
	gqlhttptest.Subscribe(t, ctx, c, "1", query, vars)
	return c
}

// The server's JWT check authenticates websockets through graph's Config
// (the protocol's refusals and close codes are gqlhttp's tests).
func TestWebsocketAuth(t *testing.T) {
	t.Parallel()
	srv := wsServer(t)
	tok := token(t, "sam", edustream.RoleStudent, "Sam")
	tests := []struct {
		name   string
		init   map[string]any
		wantMe string // "" for anonymous
	}{
		{"bearer token", map[string]any{"Authorization": "Bearer " + tok}, "Sam"},
		{"lower-case key", map[string]any{"authorization": "Bearer " + tok}, "Sam"},
		{"anonymous", map[string]any{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := gqlhttptest.Open(t, ctx, srv.URL)
			gqlhttptest.Init(t, ctx, c, tt.init)
			payload := gqlhttptest.Run(t, ctx, c, "{ me { name } }", nil)
			var result struct {
				Data struct {
					Me *struct{ Name string }
				}
			}
			json.Unmarshal(payload, &result)
			got := ""
			if result.Data.Me != nil {
				got = result.Data.Me.Name
			}
			if got != tt.wantMe {
				t.Errorf("me = %q, want %q (%s)", got, tt.wantMe, payload)
			}
		})
	}
}
