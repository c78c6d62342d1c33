package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edustream/edustream"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "edustream-test"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// claims returns a valid payload for the test issuer and audience, changed
// by the given edits.
func claims(edits ...func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub":   "user-1",
		"role":  "INSTRUCTOR",
		"email": "ada@example.com",
		"name":  "Ada Lovelace",
		"iss":   testIssuer,
		"aud":   testAudience,
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

func set(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
func unset(k string) func(jwt.MapClaims)      { return func(c jwt.MapClaims) { delete(c, k) } }

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s token: %v", method.Alg(), err)
	}
	return s
}

// unsignedToken builds an alg=none token by hand, as an attacker would.
func unsignedToken(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", c)
}

// wantClaims is what claims() carries.
var wantClaims = edustream.Claims{Subject: "user-1", Role: edustream.RoleInstructor, Email: "ada@example.com", Name: "Ada Lovelace"}

// checkVerify asserts either the claims or the EUNAUTHENTICATED message.
func checkVerify(t *testing.T, v Verifier, token, wantErr string) {
	t.Helper()
	got, err := v.Verify(t.Context(), token)
	if wantErr == "" {
		if err != nil {
			t.Fatalf("Verify: unexpected error %v", err)
		}
		if got != wantClaims {
			t.Fatalf("Verify claims = %+v, want %+v", got, wantClaims)
		}
		return
	}
	if err == nil {
		t.Fatalf("Verify accepted the token, want %q", wantErr)
	}
	if code := edustream.ErrorCode(err); code != edustream.EUNAUTHENTICATED {
		t.Fatalf("Verify error code = %q (%v), want %q", code, err, edustream.EUNAUTHENTICATED)
	}
	if msg := edustream.ErrorMessage(err); msg != wantErr {
		t.Fatalf("Verify error message = %q, want %q", msg, wantErr)
	}
}

func TestHS256Verifier(t *testing.T) {
	t.Parallel()
	v := NewHS256Verifier(testSecret, testIssuer, testAudience)
	good := sign(t, jwt.SigningMethodHS256, testSecret, "", claims())
	header, payload, _ := strings.Cut(good, ".")
	_, sig, _ := strings.Cut(payload, ".")
	forged := header + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"user-1","role":"ADMIN","exp":9999999999}`)) + "." + sig
	now := time.Now()

	tests := []struct {
		name    string
		token   string
		wantErr string
	}{
		{"good", good, ""},
		{"expired within leeway", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("exp", now.Add(-5*time.Second).Unix()))), ""},
		{"expired", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("exp", now.Add(-time.Hour).Unix()))), "token expired"},
		{"no exp", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(unset("exp"))), "token has no expiry"},
		{"nbf in the future", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("nbf", now.Add(time.Hour).Unix()))), "token is not valid yet"},
		{"iat in the future", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("iat", now.Add(time.Hour).Unix()))), "token was issued in the future"},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("another secret, just as long...."), "", claims()), "token signature is invalid"},
		{"payload changed", forged, "token signature is invalid"},
		{"alg none", unsignedToken(t, claims()), "unsupported signing algorithm none"},
		{"HS512", sign(t, jwt.SigningMethodHS512, testSecret, "", claims()), "unsupported signing algorithm HS512"},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("iss", "https://evil.test"))), "token issuer is not accepted"},
		{"no issuer", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(unset("iss"))), "token issuer is not accepted"},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("aud", "other-app"))), "token audience is not accepted"},
		{"audience among several", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("aud", []string{"other-app", testAudience}))), ""},
		{"no audience", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(unset("aud"))), "token audience is not accepted"},
		{"missing sub", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(unset("sub"))), "token has no subject"},
		{"empty sub", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("sub", ""))), "token has no subject"},
		{"bad role", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("role", "SUPERUSER"))), "token role must be one of ADMIN, INSTRUCTOR, STUDENT"},
		{"lower-case role", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("role", "admin"))), "token role must be one of ADMIN, INSTRUCTOR, STUDENT"},
		{"missing role", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(unset("role"))), "token role must be one of ADMIN, INSTRUCTOR, STUDENT"},
		{"role not a string", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("role", []string{"ADMIN"}))), "token is malformed"},
		{"empty", "", "missing token"},
		{"garbage", "not-a-jwt", "token is malformed"},
		{"three garbage parts", "a.b.c", "token is malformed"},
		{"no alg", base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT"}`)) + ".e30.", "token has no signing algorithm"},
		{"odd alg is not echoed", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"<script>"}`)) + ".e30.", "unsupported signing algorithm (unknown)"},
		{"too large", sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("name", strings.Repeat("x", maxTokenLength)))), "token is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkVerify(t, v, tt.token, tt.wantErr) })
	}
}

func TestHS256VerifierWithoutIssuerAndAudience(t *testing.T) {
	t.Parallel()
	v := NewHS256Verifier(testSecret, "", "")
	checkVerify(t, v, sign(t, jwt.SigningMethodHS256, testSecret, "", claims(unset("iss"), unset("aud"))), "")
	checkVerify(t, v, sign(t, jwt.SigningMethodHS256, testSecret, "", claims(set("iss", "anyone"))), "")
}

func TestHS256VerifierEmptySecretFailsLoudly(t *testing.T) {
	t.Parallel()
	// A token signed with an empty key must not pass, and the refusal is
	// internal (a 500 and a log line), not the caller's fault.
	v := NewHS256Verifier(nil, "", "")
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims())
	s, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), s+".")
	if code := edustream.ErrorCode(err); code != edustream.EINTERNAL {
		t.Fatalf("Verify with empty secret: code %q (%v), want %q", code, err, edustream.EINTERNAL)
	}
}

func TestIssueToken(t *testing.T) {
	t.Parallel()
	tok, err := IssueToken(testSecret, wantClaims, testIssuer, testAudience, time.Hour)
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	checkVerify(t, NewHS256Verifier(testSecret, testIssuer, testAudience), tok, "")
	checkVerify(t, NewHS256Verifier(testSecret, testIssuer, "another-app"), tok, "token audience is not accepted")
	checkVerify(t, NewHS256Verifier([]byte("a different secret"), testIssuer, testAudience), tok, "token signature is invalid")

	expired, err := IssueToken(testSecret, wantClaims, "", "", time.Nanosecond)
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(expired, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := parsed.Claims.(jwt.MapClaims)["aud"]; ok {
		t.Errorf("token issued without an audience has an aud claim")
	}

	for name, tt := range map[string]struct {
		secret []byte
		claims edustream.Claims
		ttl    time.Duration
	}{
		"empty secret": {nil, wantClaims, time.Hour},
		"no subject":   {testSecret, edustream.Claims{Role: edustream.RoleAdmin}, time.Hour},
		"bad role":     {testSecret, edustream.Claims{Subject: "x", Role: "root"}, time.Hour},
		"zero ttl":     {testSecret, wantClaims, 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := IssueToken(tt.secret, tt.claims, "", "", tt.ttl)
			if code := edustream.ErrorCode(err); code != edustream.EINVALID {
				t.Fatalf("IssueToken error code = %q (%v), want %q", code, err, edustream.EINVALID)
			}
		})
	}
}

// jwksServer is an issuer's JWKS endpoint whose key set a test can change,
// counting the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []map[string]string
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...map[string]string) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) add(key map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// The JWKs are written out by hand, as an issuer publishes them, rather
// than by the library under test.
func rsaJWK(t *testing.T, kid string, pub *rsa.PublicKey) map[string]string {
	t.Helper()
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(t *testing.T, kid string, pub *ecdsa.PublicKey) map[string]string {
	t.Helper()
	p, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
		"x": b64(p[1:33]), "y": b64(p[33:65])}
}

type jwksKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
}

var (
	testKeysOnce sync.Once
	testKeys     jwksKeys
)

// keys generates the test keys once; RSA generation is slow under -race.
func keys(t *testing.T) jwksKeys {
	t.Helper()
	testKeysOnce.Do(func() {
		var err error
		if testKeys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if testKeys.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if testKeys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return testKeys
}

func TestJWKSVerifier(t *testing.T) {
	t.Parallel()
	k := keys(t)
	srv := newJWKSServer(t, rsaJWK(t, "rsa-1", &k.rsa.PublicKey), ecJWK(t, "ec-1", &k.ec.PublicKey))
	v, err := NewJWKSVerifier(t.Context(), srv.URL, testIssuer, testAudience)
	if err != nil {
		t.Fatalf("NewJWKSVerifier: %v", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The RSA modulus itself, as a naive HS256 verifier handed "the key"
	// would use it.
	modulus := k.rsa.PublicKey.N.Bytes()

	tests := []struct {
		name    string
		token   string
		wantErr string
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims()), ""},
		{"ES256", sign(t, jwt.SigningMethodES256, k.ec, "ec-1", claims()), ""},
		{"RS256 expired", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("exp", time.Now().Add(-time.Hour).Unix()))), "token expired"},
		{"RS256 wrong issuer", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("iss", "https://evil.test"))), "token issuer is not accepted"},
		{"ES256 wrong audience", sign(t, jwt.SigningMethodES256, k.ec, "ec-1", claims(set("aud", "other-app"))), "token audience is not accepted"},
		{"RS256 missing sub", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(unset("sub"))), "token has no subject"},
		{"ES256 bad role", sign(t, jwt.SigningMethodES256, k.ec, "ec-1", claims(set("role", "GUEST"))), "token role must be one of ADMIN, INSTRUCTOR, STUDENT"},
		{"RS256 signed by another key", sign(t, jwt.SigningMethodRS256, k.rsa2, "rsa-1", claims()), "token signature is invalid"},
		{"ES256 signed by another key", sign(t, jwt.SigningMethodES256, otherEC, "ec-1", claims()), "token signature is invalid"},
		{"RS256 naming the EC key", sign(t, jwt.SigningMethodRS256, k.rsa, "ec-1", claims()), "token algorithm does not match its signing key"},
		{"ES256 naming the RSA key", sign(t, jwt.SigningMethodES256, k.ec, "rsa-1", claims()), "token algorithm does not match its signing key"},
		{"no kid", sign(t, jwt.SigningMethodRS256, k.rsa, "", claims()), "token has no usable key id"},
		{"HS256 with public key DER", sign(t, jwt.SigningMethodHS256, pubDER, "rsa-1", claims()), "unsupported signing algorithm HS256"},
		{"HS256 with modulus", sign(t, jwt.SigningMethodHS256, modulus, "rsa-1", claims()), "unsupported signing algorithm HS256"},
		{"alg none", unsignedToken(t, claims()), "unsupported signing algorithm none"},
		{"PS256", sign(t, jwt.SigningMethodPS256, k.rsa, "rsa-1", claims()), "unsupported signing algorithm PS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkVerify(t, v, tt.token, tt.wantErr) })
	}
}

func TestJWKSVerifierUnknownKID(t *testing.T) {
	t.Parallel()
	k := keys(t)

	t.Run("refreshes once, then refuses without waiting", func(t *testing.T) {
		srv := newJWKSServer(t, rsaJWK(t, "rsa-1", &k.rsa.PublicKey))
		v, err := NewJWKSVerifier(t.Context(), srv.URL, testIssuer, testAudience)
		if err != nil {
			t.Fatalf("NewJWKSVerifier: %v", err)
		}
		if got := srv.fetches.Load(); got != 1 {
			t.Fatalf("fetches after start = %d, want 1", got)
		}
		checkVerify(t, v, sign(t, jwt.SigningMethodRS256, k.rsa2, "nope-1", claims()), "token signing key is unknown")
		if got := srv.fetches.Load(); got != 2 {
			t.Fatalf("fetches after one unknown kid = %d, want 2 (one refresh)", got)
		}
		start := time.Now()
		for i := range 5 {
			checkVerify(t, v, sign(t, jwt.SigningMethodRS256, k.rsa2, "nope-"+string(rune('2'+i)), claims()), "token signing key is unknown")
		}
		if got := srv.fetches.Load(); got != 2 {
			t.Fatalf("fetches after more unknown kids = %d, want still 2: refreshes must be rate limited", got)
		}
		if d := time.Since(start); d > jwksRefreshWaitMax {
			t.Fatalf("refused unknown kids took %v; they must not wait for the rate limiter", d)
		}
		// Known keys keep working meanwhile.
		checkVerify(t, v, sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims()), "")
	})

	t.Run("picks up a rotated key", func(t *testing.T) {
		srv := newJWKSServer(t, rsaJWK(t, "rsa-1", &k.rsa.PublicKey))
		v, err := NewJWKSVerifier(t.Context(), srv.URL, testIssuer, testAudience)
		if err != nil {
			t.Fatalf("NewJWKSVerifier: %v", err)
		}
		srv.add(rsaJWK(t, "rsa-2", &k.rsa2.PublicKey))
		checkVerify(t, v, sign(t, jwt.SigningMethodRS256, k.rsa2, "rsa-2", claims()), "")
		checkVerify(t, v, sign(t, jwt.SigningMethodRS256, k.rsa2, "rsa-2", claims()), "")
		if got := srv.fetches.Load(); got != 2 {
			t.Fatalf("fetches = %d, want 2 (start and one refresh)", got)
		}
	})
}

func TestNewJWKSVerifierErrors(t *testing.T) {
	t.Parallel()
	k := keys(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	empty := newJWKSServer(t)
	// A JWKS whose only key is for encryption still parses, so the lookup
	// must refuse it per token instead.
	encOnly := newJWKSServer(t, map[string]string{"kty": "RSA", "kid": "enc", "use": "enc",
		"n": b64(k.rsa.PublicKey.N.Bytes()), "e": "AQAB"})

	tests := []struct {
		name, url, wantErr string
	}{
		{"unreachable", closedURL, "fetch JWKS from " + closedURL},
		{"server error", failing.URL, "fetch JWKS from " + failing.URL},
		{"no keys", empty.URL, "has no usable keys"},
		{"plain http to a remote host", "http://issuer.example/jwks.json", "must use https"},
		{"relative", "/jwks.json", "not an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewJWKSVerifier(t.Context(), tt.url, "", "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewJWKSVerifier(%q) error = %v, want it to contain %q", tt.url, err, tt.wantErr)
			}
		})
	}

	v, err := NewJWKSVerifier(t.Context(), encOnly.URL, "", "")
	if err != nil {
		t.Fatalf("NewJWKSVerifier: %v", err)
	}
	checkVerify(t, v, sign(t, jwt.SigningMethodRS256, k.rsa, "enc", claims()), "token signing key is not a signature key")
}
