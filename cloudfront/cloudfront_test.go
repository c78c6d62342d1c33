package cloudfront_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/edustream/edustream/cloudfront"
	"github.com/edustream/edustream/cloudfront/cloudfronttest"
)

const keyID = "K2JCJMDEHXQW5F"

// newKey returns an RSA key and its PEM in PKCS#1 or PKCS#8.
func newKey(t *testing.T, pkcs8 bool) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if !pkcs8 {
		return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func newSigner(t *testing.T) (*cloudfront.Signer, *rsa.PrivateKey) {
	t.Helper()
	k, pemKey := newKey(t, false)
	s, err := cloudfront.New(cloudfront.Config{Domain: "d111111abcdef8.cloudfront.net", KeyID: keyID, PrivateKey: pemKey})
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func TestSignedURLVerifiesWithThePublicKey(t *testing.T) {
	t.Parallel()
	s, key := newSigner(t)
	now := time.Now()
	exp := now.Add(6 * time.Hour).Truncate(time.Second)
	u := s.URL("/play/12/master.m3u8?exp=1767290400&sig=abc")
	if u != "https://d111111abcdef8.cloudfront.net/play/12/master.m3u8?exp=1767290400&sig=abc" {
		t.Fatalf("URL = %s", u)
	}
	signed, err := s.SignedURL(u, exp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(signed, u+"&Expires=") {
		t.Errorf("signed URL %s does not extend %s", signed, u)
	}
	got, err := cloudfronttest.Verify(&key.PublicKey, keyID, signed, now)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(exp) {
		t.Errorf("expires %s, want %s", got, exp)
	}

	other, _ := newKey(t, false)
	tests := []struct {
		name string
		url  string
		pub  *rsa.PublicKey
		at   time.Time
	}{
		{"another key", signed, &other.PublicKey, now},
		{"another key id", strings.Replace(signed, keyID, "KOTHER", 1), &key.PublicKey, now},
		{"expired", signed, &key.PublicKey, exp.Add(time.Second)},
		{"another video", strings.Replace(signed, "/play/12/", "/play/13/", 1), &key.PublicKey, now},
		{"another query", strings.Replace(signed, "sig=abc", "sig=abd", 1), &key.PublicKey, now},
		{"a later expiry", strings.Replace(signed, "Expires=", "Expires=9", 1), &key.PublicKey, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cloudfronttest.Verify(tt.pub, keyID, tt.url, tt.at); err == nil {
				t.Errorf("%s verified", tt.url)
			}
		})
	}
}

// One prefix signature admits every URL under the prefix, and nothing
// outside it.
func TestPrefixQuery(t *testing.T) {
	t.Parallel()
	s, key := newSigner(t)
	now := time.Now()
	exp := now.Add(time.Hour)
	q, err := s.PrefixQuery(s.URL("/videos/12/hls/"), exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/videos/12/hls/master_720p_00001.ts", "/videos/12/hls/master_360p_00421.ts"} {
		if _, err := cloudfronttest.Verify(&key.PublicKey, keyID, s.URL(path)+"?"+q, now); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	for _, path := range []string{"/videos/12/source", "/videos/13/hls/master_720p_00001.ts", "/videos/12/poster.jpg"} {
		if _, err := cloudfronttest.Verify(&key.PublicKey, keyID, s.URL(path)+"?"+q, now); err == nil {
			t.Errorf("%s verified with the prefix signature of another path", path)
		}
	}
	if _, err := cloudfronttest.Verify(&key.PublicKey, keyID, s.URL("/videos/12/hls/a.ts")+"?"+q, exp.Add(time.Second)); err == nil {
		t.Error("the prefix signature verified after it expired")
	}
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	_, pkcs1 := newKey(t, false)
	_, pkcs8 := newKey(t, true)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})
	tests := []struct {
		name string
		cfg  cloudfront.Config
		ok   bool
	}{
		{"PKCS#1", cloudfront.Config{Domain: "cdn.example.com", KeyID: keyID, PrivateKey: pkcs1}, true},
		{"PKCS#8", cloudfront.Config{Domain: "cdn.example.com", KeyID: keyID, PrivateKey: pkcs8}, true},
		{"a URL, not a domain", cloudfront.Config{Domain: "https://cdn.example.com", KeyID: keyID, PrivateKey: pkcs1}, false},
		{"no key id", cloudfront.Config{Domain: "cdn.example.com", PrivateKey: pkcs1}, false},
		{"not PEM", cloudfront.Config{Domain: "cdn.example.com", KeyID: keyID, PrivateKey: []byte("secret")}, false},
		{"ECDSA", cloudfront.Config{Domain: "cdn.example.com", KeyID: keyID, PrivateKey: ecPEM}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cloudfront.New(tt.cfg); (err == nil) != tt.ok {
				t.Errorf("New: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
