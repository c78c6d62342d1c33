package sns

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/edustream/edustream"
)

// snsHost is the only kind of host a signing certificate or a
// subscription URL may come from: sns.<region>.amazonaws.com, or .com.cn.
var snsHost = regexp.MustCompile(`^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$`)

// Limits on what a certificate fetch may cost.
const (
	certFetchTimeout = 10 * time.Second
	maxCertBytes     = 64 << 10
	maxCachedCerts   = 64
	// minRSABits: SNS signs with 2048-bit keys; anything weaker is not SNS.
	minRSABits = 2048
)

// Verifier checks the signatures of SNS messages. Signing certificates are
// fetched over https from SNS hosts only, checked, and cached until they
// expire. It is safe for concurrent use.
//
// The certificate's authenticity comes from where it was fetched: the
// host rule and TLS (which checks the host's chain against the system's
// roots, or the client's). The file itself holds the leaf only, as AWS's
// SDKs also assume, so it is checked for what a leaf can show: that it
// parses, holds an RSA key of SNS's size, and is within its validity.
type Verifier struct {
	client *http.Client
	now    edustream.Clock

	fetches singleflight.Group
	mu      sync.Mutex
	certs   map[string]*x509.Certificate
}

// NewVerifier returns a Verifier that fetches certificates with client
// (nil: a plain client). The client decides how an allowed host is
// reached (a proxy, a private CA); which hosts are allowed is decided
// here, before the client is asked. now is the clock (nil: time.Now).
func NewVerifier(client *http.Client, now edustream.Clock) *Verifier {
	c := http.Client{Timeout: certFetchTimeout}
	if client != nil {
		c = *client
		if c.Timeout == 0 {
			c.Timeout = certFetchTimeout
		}
	}
	// A redirect could lead anywhere: the URL that passed the host rule
	// is the only one fetched.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if now == nil {
		now = time.Now
	}
	return &Verifier{client: &c, now: now, certs: map[string]*x509.Certificate{}}
}

// Verify checks m's signature. EFORBIDDEN for a message that is forged or
// names a certificate SNS would not: a foreign or non-https URL, a
// certificate that does not check out, a signature that does not match.
// Any other error is this side's trouble (the host unreachable) and may be
// retried.
func (v *Verifier) Verify(ctx context.Context, m *Message) error {
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return edustream.Errorf(edustream.EFORBIDDEN, "unsupported SignatureVersion %q", m.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return edustream.Errorf(edustream.EFORBIDDEN, "the signature is not base64")
	}
	signed, err := m.stringToSign()
	if err != nil {
		return edustream.Errorf(edustream.EFORBIDDEN, "%v", err)
	}
	cert, err := v.certificate(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum(signed)
		digest = d[:]
	} else {
		d := sha256.Sum256(signed)
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), hash, digest, sig); err != nil {
		return edustream.Errorf(edustream.EFORBIDDEN, "the signature does not match the message")
	}
	return nil
}

// CheckSNSURL reports whether raw is an https URL on an SNS host, the rule
// for signing certificates (which must also end in .pem) and for
// SubscribeURL. EFORBIDDEN.
func CheckSNSURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "%q is not a URL", raw)
	case u.Scheme != "https":
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "%q is not an https URL", raw)
	case u.User != nil, u.Port() != "" && u.Port() != "443":
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "%q names a user or a port", raw)
	case !snsHost.MatchString(u.Hostname()):
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "%q is not on an SNS host", raw)
	}
	return u, nil
}

// certificate returns the checked certificate at raw, from the cache or
// fetched once however many messages ask at the same moment.
func (v *Verifier) certificate(ctx context.Context, raw string) (*x509.Certificate, error) {
	u, err := CheckSNSURL(raw)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, ".pem") || u.RawQuery != "" || u.Fragment != "" {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "the signing certificate URL %q is not a .pem file", raw)
	}
	key := u.String()
	v.mu.Lock()
	cert := v.certs[key]
	v.mu.Unlock()
	if cert != nil {
		if err := v.checkValidity(cert); err != nil {
			v.mu.Lock()
			delete(v.certs, key)
			v.mu.Unlock()
			return nil, err
		}
		return cert, nil
	}
	got, err, _ := v.fetches.Do(key, func() (any, error) {
		// The first caller's ctx must not cancel the others' fetch.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), certFetchTimeout)
		defer cancel()
		cert, err := v.fetch(ctx, key)
		if err != nil {
			return nil, err
		}
		v.mu.Lock()
		if len(v.certs) >= maxCachedCerts {
			// SNS uses a handful; a full cache means churn, so start over.
			clear(v.certs)
		}
		v.certs[key] = cert
		v.mu.Unlock()
		return cert, nil
	})
	if err != nil {
		return nil, err
	}
	return got.(*x509.Certificate), nil
}

func (v *Verifier) fetch(ctx context.Context, certURL string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, certURL, nil)
	if err != nil {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "bad signing certificate URL: %v", err)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		// Unreachable is our side's (or AWS's) trouble, not proof of forgery.
		return nil, fmt.Errorf("fetch the SNS signing certificate %s: %w", certURL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("fetch the SNS signing certificate %s: %s", certURL, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "the signing certificate %s answered %s", certURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCertBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the SNS signing certificate %s: %w", certURL, err)
	}
	if len(body) > maxCertBytes {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "the signing certificate %s is larger than %d bytes", certURL, maxCertBytes)
	}
	cert, err := parseCertificate(body)
	if err != nil {
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "the signing certificate %s: %v", certURL, err)
	}
	if err := v.checkValidity(cert); err != nil {
		return nil, err
	}
	return cert, nil
}

// parseCertificate reads the first certificate of a PEM file and checks
// its key.
func parseCertificate(body []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, body = pem.Decode(body)
		if block == nil {
			return nil, errors.New("no PEM certificate")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("the key is %T, not RSA", cert.PublicKey)
		}
		if pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits, fewer than %d", pub.N.BitLen(), minRSABits)
		}
		return cert, nil
	}
}

func (v *Verifier) checkValidity(cert *x509.Certificate) error {
	now := v.now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return edustream.Errorf(edustream.EFORBIDDEN, "the signing certificate is valid from %s to %s, not now",
			cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	}
	return nil
}
