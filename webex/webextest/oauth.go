package webextest

import (
	"encoding/base64"
	"mime"
	"net/http"
	"time"
)

type refreshGrant struct {
	clientID string
	expires  time.Time
	revoked  bool
}

// AddClient registers an integration's client id and secret with the
// token endpoint.
func (s *Server) AddClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
}

// IssueRefreshToken grants a refresh token to a registered client, as the
// authorization-code flow would, valid for RefreshTokenLifetime.
func (s *Server) IssueRefreshToken(clientID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := newToken()
	s.refresh[t] = &refreshGrant{clientID: clientID, expires: s.now().Add(s.cfg.RefreshTokenLifetime)}
	return t
}

// IssueAccessToken makes a bearer token the API accepts for lifetime
// (forever when 0), like a bot or personal access token.
func (s *Server) IssueAccessToken(lifetime time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := newToken()
	var exp time.Time
	if lifetime > 0 {
		exp = s.now().Add(lifetime)
	}
	s.access[t] = exp
	return t
}

// RevokeRefreshToken makes the token endpoint refuse a refresh token, as
// when the user deauthorizes the integration.
func (s *Server) RevokeRefreshToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.refresh[token]; ok {
		g.revoked = true
	}
}

// ExpireAccessTokens ends every access token issued so far, so the next
// API call with one gets a 401.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for t := range s.access {
		s.access[t] = now
	}
}

// newToken makes a token shaped like Webex's: random base64, a fixed
// infix and an organization-like suffix.
func newToken() string {
	return base64.RawURLEncoding.EncodeToString([]byte(uuid()+uuid())) + "_P0A1_" + uuid()
}

// accessToken is POST /access_token with grant_type=refresh_token.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		s.tokenError(w, http.StatusBadRequest, "invalid_request", "The token request must be form-encoded.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.tokenError(w, http.StatusBadRequest, "invalid_request", "The token request is not a valid form.")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "refresh_token" {
		s.tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "The fake supports grant_type=refresh_token only.")
		return
	}
	resp, status, code, msg := s.grant(f.Get("client_id"), f.Get("client_secret"), f.Get("refresh_token"))
	if status != http.StatusOK {
		s.tokenError(w, status, code, msg)
		return
	}
	s.writeJSON(w, http.StatusOK, resp)
}

// grant checks a refresh request and issues the new pair.
func (s *Server) grant(clientID, secret, rt string) (resp map[string]any, status int, code, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if want, ok := s.clients[clientID]; !ok || want == "" || want != secret {
		return nil, http.StatusUnauthorized, "invalid_client", "The client id or secret is not valid."
	}
	now := s.now()
	g, ok := s.refresh[rt]
	if !ok || g.revoked || g.clientID != clientID || !now.Before(g.expires) {
		return nil, http.StatusBadRequest, "invalid_grant", "The refresh token provided is expired, revoked, malformed, or invalid."
	}
	if s.cfg.RotateRefreshTokens {
		g.revoked = true
		rt = newToken()
		g = &refreshGrant{clientID: clientID}
		s.refresh[rt] = g
	}
	// Using a refresh token extends its life.
	g.expires = now.Add(s.cfg.RefreshTokenLifetime)
	at := newToken()
	s.access[at] = now.Add(s.cfg.AccessTokenLifetime)
	return map[string]any{
		"access_token":             at,
		"expires_in":               int64(s.cfg.AccessTokenLifetime / time.Second),
		"refresh_token":            rt,
		"refresh_token_expires_in": int64(s.cfg.RefreshTokenLifetime / time.Second),
		"token_type":               "Bearer",
	}, http.StatusOK, "", ""
}

// tokenError answers like an OAuth token endpoint, in Webex's error shape.
func (s *Server) tokenError(w http.ResponseWriter, status int, code, msg string) {
	b := errorBody{Message: msg, Errors: []description{{msg}}, Error: code, ErrorDescription: msg, TrackingID: trackingID()}
	s.writeJSONWith(w, status, b, b.TrackingID)
}
