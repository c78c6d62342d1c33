package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/edustream/edustream"
)

// Limits on what a token may be. They bound the work an unauthenticated
// caller can make us do before the signature has been checked.
const (
	// maxTokenLength is far above any real token (Cognito's are ~1 KiB) and
	// far below the 1 MiB net/http allows for headers.
	maxTokenLength = 8 << 10
	maxKeyIDLength = 256
	// clockLeeway absorbs clock skew between the issuer and this fleet.
	clockLeeway = 30 * time.Second
)

// JWKS client tuning. The values trade key-rotation latency against how much
// traffic a stream of tokens with made-up key ids can cause at the issuer.
const (
	jwksHTTPTimeout     = 10 * time.Second
	jwksRefreshInterval = time.Hour
	// At most one refresh a minute is triggered by unknown key ids; a
	// request that would have to wait longer than jwksRefreshWaitMax for
	// its turn is refused at once instead of hanging.
	jwksUnknownKIDEvery = time.Minute
	jwksRefreshWaitMax  = 5 * time.Second
	minRSAKeyBits       = 2048
)

// Verifier checks a JWT and returns the identity it carries.
type Verifier interface {
	// Verify checks the token's signature, algorithm, validity window,
	// issuer, audience, subject and role. EUNAUTHENTICATED, with a message
	// safe to show the caller, for any token that is not acceptable;
	// EINTERNAL only when the verifier itself is misconfigured.
	Verify(ctx context.Context, token string) (edustream.Claims, error)
}

// tokenClaims is the JWT payload: the registered claims plus the three the
// contract adds. Unknown claims are ignored.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role  string `json:"role,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// verifier holds what both verifiers share: the algorithm allow-list and
// the claim checks. Only the key lookup differs.
type verifier struct {
	algs     []string
	issuer   string
	audience string
	keyfunc  func(ctx context.Context, t *jwt.Token) (any, error)
	// stop ends a JWKS verifier's background refresh; the caller's ctx
	// does too, which is the documented way.
	stop context.CancelFunc
}

// NewHS256Verifier returns a Verifier for tokens signed with HS256 and
// secret, such as those IssueToken makes. issuer and audience are checked
// when they are not empty. An empty secret makes every Verify fail with
// EINTERNAL, so a misconfiguration is loud instead of accepting tokens signed
// with an empty key.
func NewHS256Verifier(secret []byte, issuer, audience string) Verifier {
	key := append([]byte(nil), secret...) // the caller may reuse its slice
	return &verifier{
		algs:     []string{jwt.SigningMethodHS256.Alg()},
		issuer:   issuer,
		audience: audience,
		keyfunc: func(context.Context, *jwt.Token) (any, error) {
			if len(key) == 0 {
				return nil, errors.New("HS256 verifier has an empty secret")
			}
			return key, nil
		},
	}
}

// NewJWKSVerifier returns a Verifier for RS256 and ES256 tokens whose public
// keys are published as a JWK Set at jwksURL (for Cognito:
// https://cognito-idp.<region>.amazonaws.com/<pool-id>/.well-known/jwks.json).
// issuer and audience are checked when they are not empty.
//
// The set is fetched before NewJWKSVerifier returns, and an unreachable or
// unusable URL is an error, so a bad configuration stops start-up. It is
// refreshed every hour, and at most once a minute when a token names a key id
// the set does not have (key rotation). ctx bounds the first fetch and the
// background refresh: it should live as long as the verifier.
//
// jwksURL must be https, except on a loopback host (tests, local issuers):
// whoever can change the keys in transit can mint any user.
func NewJWKSVerifier(ctx context.Context, jwksURL, issuer, audience string) (Verifier, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("JWKS URL %q is not an absolute URL", jwksURL)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("JWKS URL %q must use https", jwksURL)
	}
	// jwkset starts its refresh goroutine before the first fetch; stop it
	// again if that fetch fails.
	ctx, cancel := context.WithCancel(ctx)
	ok := false
	defer func() {
		if !ok {
			cancel()
		}
	}()
	store, err := jwkset.NewStorageFromHTTP(jwksURL, jwkset.HTTPClientStorageOptions{
		Client: &http.Client{
			Timeout: jwksHTTPTimeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if req.URL.Scheme != "https" && !isLoopback(req.URL.Hostname()) {
					return errors.New("JWKS redirect leaves https")
				}
				if len(via) >= 5 {
					return errors.New("too many JWKS redirects")
				}
				return nil
			},
		},
		Ctx:             ctx,
		HTTPTimeout:     jwksHTTPTimeout,
		RefreshInterval: jwksRefreshInterval,
		RefreshErrorHandler: func(ctx context.Context, err error) {
			edustream.Logger(ctx).WarnContext(ctx, "refresh JWKS", "url", jwksURL, "error", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS from %s: %w", jwksURL, err)
	}
	all, err := store.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("read JWKS from %s: %w", jwksURL, err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("JWKS at %s has no usable keys", jwksURL)
	}
	keys, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{jwksURL: store},
		RateLimitWaitMax:  jwksRefreshWaitMax,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS client for %s: %w", jwksURL, err)
	}
	ok = true
	return &verifier{
		algs:     []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()},
		issuer:   issuer,
		audience: audience,
		keyfunc: func(ctx context.Context, t *jwt.Token) (any, error) {
			return jwksKey(ctx, keys, t)
		},
		stop: cancel,
	}, nil
}

// jwksKey finds the public key for t and makes sure it is the kind of key
// t's algorithm needs. The parser has already checked the algorithm against
// the allow-list, so an HS256 token can never be checked against a public
// key's bytes.
func jwksKey(ctx context.Context, keys jwkset.Storage, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" || len(kid) > maxKeyIDLength {
		return nil, unauthenticated("token has no usable key id")
	}
	jwk, err := keys.KeyRead(ctx, kid)
	if err != nil {
		// Not found, or the refresh budget is spent: to the caller both
		// mean the same thing.
		edustream.Logger(ctx).DebugContext(ctx, "JWKS key lookup failed", "kid", kid, "error", err)
		return nil, unauthenticated("token signing key is unknown")
	}
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, unauthenticated("token signing key is not a signature key")
	}
	alg := t.Method.Alg()
	if m.ALG != "" && string(m.ALG) != alg {
		return nil, unauthenticated("token algorithm does not match its signing key")
	}
	switch key := jwk.Key().(type) {
	case *rsa.PublicKey:
		if alg != jwt.SigningMethodRS256.Alg() {
			return nil, unauthenticated("token algorithm does not match its signing key")
		}
		if key.N.BitLen() < minRSAKeyBits {
			return nil, unauthenticated("token signing key is too weak")
		}
		return key, nil
	case *ecdsa.PublicKey:
		if alg != jwt.SigningMethodES256.Alg() || key.Curve != elliptic.P256() {
			return nil, unauthenticated("token algorithm does not match its signing key")
		}
		return key, nil
	default:
		return nil, unauthenticated("token signing key is of an unsupported type")
	}
}

// Verify implements Verifier.
func (v *verifier) Verify(ctx context.Context, token string) (edustream.Claims, error) {
	if token == "" {
		return edustream.Claims{}, unauthenticated("missing token")
	}
	if len(token) > maxTokenLength {
		return edustream.Claims{}, unauthenticated("token is too large")
	}
	// The parser would refuse an algorithm outside the list too; looking
	// first gives the caller a message that says which, and keeps `none`
	// and HS256-with-a-public-key away from any key lookup.
	alg, err := tokenAlgorithm(token)
	if err != nil {
		return edustream.Claims{}, err
	}
	if !slices.Contains(v.algs, alg) {
		return edustream.Claims{}, unauthenticated("unsupported signing algorithm %s", printable(alg))
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockLeeway),
	}
	if v.issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.issuer))
	}
	if v.audience != "" {
		opts = append(opts, jwt.WithAudience(v.audience))
	}
	var c tokenClaims
	_, err = jwt.NewParser(opts...).ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		return v.keyfunc(ctx, t)
	})
	if err != nil {
		return edustream.Claims{}, v.tokenError(err, &c)
	}

	claims := edustream.Claims{
		Subject: c.Subject,
		Role:    edustream.Role(c.Role),
		Email:   c.Email,
		Name:    c.Name,
	}
	if claims.Subject == "" {
		return edustream.Claims{}, unauthenticated("token has no subject")
	}
	if !claims.Role.Valid() {
		return edustream.Claims{}, unauthenticated("token role must be one of ADMIN, INSTRUCTOR, STUDENT")
	}
	// Lengths and encodings are the user store's to judge (in its own
	// units); NewAuthenticator reports its refusal as a bad token.
	return claims, nil
}

// tokenError turns a parser error into the one error the caller sees. The
// parser joins several validation errors; the first that applies, in the
// order below, names the problem.
func (v *verifier) tokenError(err error, c *tokenClaims) error {
	var appErr *edustream.Error
	switch {
	case errors.As(err, &appErr): // from our key lookup
		return appErr
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthenticated("token is malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return unauthenticated("token signature is invalid")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The key lookup failed for a reason of ours, not the token's.
		return fmt.Errorf("verify token: %w", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthenticated("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthenticated("token is not valid yet")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthenticated("token was issued in the future")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return unauthenticated("token issuer is not accepted")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return unauthenticated("token audience is not accepted")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// The parser says "required claim missing" for exp, iss and aud
		// alike; the decoded claims tell which.
		switch {
		case c.ExpiresAt == nil:
			return unauthenticated("token has no expiry")
		case v.issuer != "" && c.Issuer == "":
			return unauthenticated("token issuer is not accepted")
		case v.audience != "" && len(c.Audience) == 0:
			return unauthenticated("token audience is not accepted")
		}
	}
	return unauthenticated("token is invalid")
}

// tokenAlgorithm reads the alg of a compact JWS without trusting anything
// else in it.
func tokenAlgorithm(token string) (string, error) {
	header, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", unauthenticated("token is malformed")
	}
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return "", unauthenticated("token is malformed")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", unauthenticated("token is malformed")
	}
	if h.Alg == "" {
		return "", unauthenticated("token has no signing algorithm")
	}
	return h.Alg, nil
}

// IssueToken returns an HS256 token for claims that NewHS256Verifier with
// the same secret, issuer and audience accepts until ttl has passed. It backs
// the `token` and `dev` commands. EINVALID for an empty secret, subject or
// ttl, or an unknown role.
func IssueToken(secret []byte, claims edustream.Claims, issuer, audience string, ttl time.Duration) (string, error) {
	switch {
	case len(secret) == 0:
		return "", edustream.Errorf(edustream.EINVALID, "token secret is empty")
	case claims.Subject == "":
		return "", edustream.Errorf(edustream.EINVALID, "token subject is empty")
	case !claims.Role.Valid():
		return "", edustream.Errorf(edustream.EINVALID, "token role must be one of ADMIN, INSTRUCTOR, STUDENT")
	case ttl <= 0:
		return "", edustream.Errorf(edustream.EINVALID, "token lifetime must be positive")
	}
	now := time.Now()
	c := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   claims.Subject,
			Issuer:    issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Role:  string(claims.Role),
		Email: claims.Email,
		Name:  claims.Name,
	}
	if audience != "" {
		c.Audience = jwt.ClaimStrings{audience}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

func unauthenticated(format string, args ...any) *edustream.Error {
	return edustream.Errorf(edustream.EUNAUTHENTICATED, format, args...)
}

// printable returns s if it is short and plain enough to echo back in an
// error message, which ends up in logs and browsers.
func printable(s string) string {
	if len(s) > 16 {
		return "(unknown)"
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "(unknown)"
		}
	}
	return s
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
