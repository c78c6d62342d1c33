// Package cloudfront signs URLs of an Amazon CloudFront distribution with a
// key of one of its trusted key groups, through
// aws-sdk-go-v2/feature/cloudfront/sign. The playback handler uses it, when
// a distribution is configured, so that players fetch the stream from the
// CDN: a canned policy for one URL (a playlist, the poster), and one custom
// policy with a wildcard for all the segments of a stream, signed once per
// playlist instead of once per segment.
package cloudfront

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

// Config configures a Signer.
type Config struct {
	// Domain is the distribution's host name: d111111abcdef8.cloudfront.net
	// or an alternate domain such as cdn.example.com. URLs are https.
	Domain string
	// KeyID is the ID CloudFront gave the public key (in a key group the
	// distribution's behaviors trust), e.g. K2JCJMDEHXQW5F.
	KeyID string
	// PrivateKey is the RSA private key, PEM (PKCS#1 or PKCS#8).
	PrivateKey []byte
}

// Signer signs URLs of one distribution. It is safe for concurrent use.
type Signer struct {
	base   string
	keyID  string
	key    *rsa.PrivateKey
	signer *sign.URLSigner
}

// New returns a Signer, checking the domain and the key.
func New(cfg Config) (*Signer, error) {
	if cfg.Domain == "" || strings.ContainsAny(cfg.Domain, "/:@?# ") {
		return nil, fmt.Errorf("cloudfront: domain %q must be a bare host name such as d111111abcdef8.cloudfront.net", cfg.Domain)
	}
	if cfg.KeyID == "" {
		return nil, errors.New("cloudfront: no key ID")
	}
	key, err := parsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("cloudfront: private key: %w", err)
	}
	return &Signer{
		base:   "https://" + strings.ToLower(cfg.Domain),
		keyID:  cfg.KeyID,
		key:    key,
		signer: sign.NewURLSigner(cfg.KeyID, key),
	}, nil
}

// parsePrivateKey reads an RSA key from PEM: CloudFront takes RSA 2048
// keys, which openssl writes as PKCS#1 (genrsa) or PKCS#8 (genpkey).
func parsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(bytes.TrimSpace(pemBytes))
	if block == nil {
		return nil, errors.New("not PEM")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rsaKey, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the key is %T; CloudFront signs with RSA", k)
		}
		return rsaKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
}

// URL returns the distribution's unsigned URL of path, which starts with
// "/" and may carry a query.
func (s *Signer) URL(path string) string {
	p, query, _ := strings.Cut(path, "?")
	u := s.base + (&url.URL{Path: p}).EscapedPath()
	if query != "" {
		u += "?" + query
	}
	return u
}

// SignedURL signs rawURL (one of URL's) with a canned policy: it works
// until exp, for that URL only.
func (s *Signer) SignedURL(rawURL string, exp time.Time) (string, error) {
	signed, err := s.signer.Sign(rawURL, exp)
	if err != nil {
		return "", fmt.Errorf("cloudfront: sign %s: %w", rawURL, err)
	}
	return signed, nil
}

// PrefixQuery returns the query string (Policy, Signature, Key-Pair-Id)
// that signs every URL starting with prefixURL (one of URL's) until exp: a
// custom policy whose resource ends in a wildcard. Append it to each URL
// under the prefix.
func (s *Signer) PrefixQuery(prefixURL string, exp time.Time) (string, error) {
	p := &sign.Policy{Statements: []sign.Statement{{
		Resource:  prefixURL + "*",
		Condition: sign.Condition{DateLessThan: sign.NewAWSEpochTime(exp)},
	}}}
	sig, policy, err := p.Sign(s.key)
	if err != nil {
		return "", fmt.Errorf("cloudfront: sign %s*: %w", prefixURL, err)
	}
	return "Policy=" + string(policy) + "&Signature=" + string(sig) + "&Key-Pair-Id=" + s.keyID, nil
}
