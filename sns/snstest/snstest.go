// Package snstest is a fake of Amazon SNS for tests, built from SNS's
// documentation: it signs messages the way SNS does (SignatureVersion 1 and
// 2, the documented fields in the documented order) with a key and
// certificate the test made, serves that certificate and the subscription
// confirmation URL from an https "SNS host", and delivers messages to an
// HTTPS endpoint's handler with SNS's headers.
//
// The SNS host is an httptest TLS server whose certificate, signed by a CA
// the test made, names sns.<region>.amazonaws.com. Client returns the
// http.Client the code under test fetches with: it dials every SNS host
// name to that server and trusts that CA, and reaches nothing else. The
// code's own rules about which hosts it may fetch from stay as they are.
//
// Its signing is written from the documentation independently of package
// sns, so a mistake in one does not hide the same mistake in the other.
package snstest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Region is the region of the fake's SNS host and topics.
const Region = "us-east-1"

// CertPath is where the fake serves its signing certificate.
const CertPath = "/SimpleNotificationService-0000000000000000000000.pem"

// Server is the fake SNS: its signing key, the https host that serves the
// certificate and confirms subscriptions, and what it has been asked.
type Server struct {
	t    testing.TB
	host *httptest.Server
	ca   *x509.CertPool
	key  *rsa.PrivateKey

	mu        sync.Mutex
	files     map[string][]byte
	fetches   map[string]int
	confirmed []string
	// refuse, when set, is the status ConfirmSubscription answers with.
	refuse     int
	refuseCode string
	seq        int
}

// NewServer starts a fake SNS with a fresh RSA signing key and a
// certificate for it valid from an hour ago for a day. It stops when the
// test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "snstest CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	// The host's TLS certificate names the SNS hosts of the regions tests
	// use, .com and .com.cn.
	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tlsTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "sns." + Region + ".amazonaws.com"},
		DNSNames:     []string{"sns." + Region + ".amazonaws.com", "sns.eu-west-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	tlsDER, err := x509.CreateCertificate(rand.Reader, tlsTmpl, caCert, &tlsKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, key: key, ca: x509.NewCertPool(), files: map[string][]byte{}, fetches: map[string]int{}}
	s.ca.AddCert(caCert)
	s.files[CertPath] = s.SigningCertificate(time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))

	s.host = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHost))
	s.host.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{tlsDER}, PrivateKey: tlsKey}}}
	s.host.StartTLS()
	t.Cleanup(s.host.Close)
	return s
}

// SigningCertificate returns a PEM certificate of the signing key, valid
// from notBefore to notAfter, for serving at another path (ServeFile).
func (s *Server) SigningCertificate(notBefore, notAfter time.Time) []byte {
	s.t.Helper()
	return s.certificateFor(&s.key.PublicKey, s.key, notBefore, notAfter)
}

// ECDSACertificate returns a PEM certificate with an ECDSA key, which SNS
// never uses.
func (s *Server) ECDSACertificate() []byte {
	s.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.certificateFor(&k.PublicKey, k, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

func (s *Server) certificateFor(pub, priv any, notBefore, notAfter time.Time) []byte {
	s.t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		s.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// ServeFile makes the SNS host answer GET path with body.
func (s *Server) ServeFile(path string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = body
}

// CertURL is the https URL of the fake's signing certificate.
func (s *Server) CertURL() string { return "https://sns." + Region + ".amazonaws.com" + CertPath }

// Fetches returns how many times path was fetched from the SNS host.
func (s *Server) Fetches(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[path]
}

// Requests returns how many requests of any kind reached the SNS host.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.confirmed)
	for _, c := range s.fetches {
		n += c
	}
	return n
}

// Confirmed returns the tokens of the subscriptions confirmed so far.
func (s *Server) Confirmed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.confirmed...)
}

func (s *Server) serveHost(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/" && r.URL.Query().Get("Action") == "ConfirmSubscription" {
		if s.refuse != 0 {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(s.refuse)
			fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>refused by the fake</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>`,
				s.refuseCode)
			return
		}
		s.confirmed = append(s.confirmed, r.URL.Query().Get("Token"))
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult><SubscriptionArn>%s:sub</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`,
			r.URL.Query().Get("TopicArn"))
		return
	}
	s.fetches[r.URL.Path]++
	body, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-x509-ca-cert")
	_, _ = w.Write(body)
}

// RefuseConfirmations makes ConfirmSubscription answer status with SNS's
// error document carrying code, as SNS does for an expired or used token
// (400, "InvalidParameter") or in an outage (500, "InternalError"). Status
// 0 accepts confirmations again.
func (s *Server) RefuseConfirmations(status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse, s.refuseCode = status, code
}

// Client returns an http.Client that reaches every SNS host name at the
// fake's host, trusting its CA, and refuses to dial anything else, so a
// test can never reach the real AWS.
func (s *Server) Client() *http.Client {
	addr := s.host.Listener.Addr().String()
	var d net.Dialer
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
				host, _, err := net.SplitHostPort(hostport)
				if err != nil {
					return nil, err
				}
				if !strings.HasPrefix(host, "sns.") || !(strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")) {
					return nil, fmt.Errorf("snstest: no route to %s outside the fake SNS", host)
				}
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig: &tls.Config{RootCAs: s.ca},
		},
	}
}

// Message is an SNS delivery's body, as SNS writes it.
type Message struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string `json:",omitempty"`
	TopicArn         string
	Subject          *string `json:",omitempty"`
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
	SubscribeURL     string `json:",omitempty"`
	UnsubscribeURL   string `json:",omitempty"`
}

// Topic is one topic of the fake SNS.
type Topic struct {
	s   *Server
	ARN string
	// SignatureVersion is "1" (SHA1, SNS's default) or "2" (SHA256).
	SignatureVersion string
}

// Topic returns the topic named name in Region, signing with version "1".
func (s *Server) Topic(name string) *Topic {
	return &Topic{s: s, ARN: "arn:aws:sns:" + Region + ":111122223333:" + name, SignatureVersion: "1"}
}

func (s *Server) nextID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, s.seq)
}

// Notification returns a signed Notification of message (subject nil: no
// Subject field).
func (tp *Topic) Notification(message string, subject *string) *Message {
	m := &Message{
		Type:             "Notification",
		MessageID:        tp.s.nextID(),
		TopicArn:         tp.ARN,
		Subject:          subject,
		Message:          message,
		Timestamp:        time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		SignatureVersion: tp.SignatureVersion,
		SigningCertURL:   tp.s.CertURL(),
		UnsubscribeURL:   "https://sns." + Region + ".amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + tp.ARN + ":sub",
	}
	tp.Sign(m)
	return m
}

// Confirmation returns a signed SubscriptionConfirmation (typ
// "SubscriptionConfirmation") or UnsubscribeConfirmation.
func (tp *Topic) Confirmation(typ string) *Message {
	token := fmt.Sprintf("token-%s", tp.s.nextID())
	q := url.Values{"Action": {"ConfirmSubscription"}, "TopicArn": {tp.ARN}, "Token": {token}}
	m := &Message{
		Type:             typ,
		MessageID:        tp.s.nextID(),
		Token:            token,
		TopicArn:         tp.ARN,
		Message:          "You have chosen to subscribe to the topic " + tp.ARN + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		Timestamp:        time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		SignatureVersion: tp.SignatureVersion,
		SigningCertURL:   tp.s.CertURL(),
		SubscribeURL:     "https://sns." + Region + ".amazonaws.com/?" + q.Encode(),
	}
	tp.Sign(m)
	return m
}

// Sign sets m's Signature with the fake's key, by m's SignatureVersion.
// Call it again after changing a signed field to re-sign; change a field
// after signing to tamper.
func (tp *Topic) Sign(m *Message) {
	var b strings.Builder
	add := func(name, value string) { b.WriteString(name + "\n" + value + "\n") }
	if m.Type == "Notification" {
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	} else {
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	}
	var hash crypto.Hash
	var digest []byte
	if m.SignatureVersion == "2" {
		d := sha256.Sum256([]byte(b.String()))
		hash, digest = crypto.SHA256, d[:]
	} else {
		d := sha1.Sum([]byte(b.String()))
		hash, digest = crypto.SHA1, d[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, tp.s.key, hash, digest)
	if err != nil {
		tp.s.t.Fatal(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
}

// Deliver POSTs m to handler (an SNS HTTPS endpoint's handler) as SNS
// does, and returns the answer's status and body.
func Deliver(h http.Handler, m *Message) (int, string) {
	body, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return DeliverRaw(h, m.Type, m.MessageID, m.TopicArn, body)
}

// DeliverRaw POSTs body with SNS's headers to handler.
func DeliverRaw(h http.Handler, typ, id, topic string, body []byte) (int, string) {
	r := httptest.NewRequest(http.MethodPost, "/sns", bytes.NewReader(body))
	setHeaders(r.Header, typ, id, topic)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, strings.TrimSpace(w.Body.String())
}

// Post delivers m over HTTP to endpoint (the /sns URL of a running
// server), as SNS does.
func Post(ctx context.Context, endpoint string, m *Message) (int, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	setHeaders(req.Header, m.Type, m.MessageID, m.TopicArn)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// PostUntilAccepted delivers m to endpoint and, like SNS, delivers it again
// after a 5xx or a connection error, up to attempts times. It returns the
// last status.
func PostUntilAccepted(ctx context.Context, endpoint string, m *Message, attempts int, pause time.Duration) (int, error) {
	var status int
	var err error
	for range attempts {
		status, err = Post(ctx, endpoint, m)
		if err == nil && status < 500 {
			return status, nil
		}
		select {
		case <-ctx.Done():
			return status, errors.Join(err, ctx.Err())
		case <-time.After(pause):
		}
	}
	return status, err
}

func setHeaders(h http.Header, typ, id, topic string) {
	// SNS sends JSON as text/plain.
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("x-amz-sns-message-type", typ)
	h.Set("x-amz-sns-message-id", id)
	h.Set("x-amz-sns-topic-arn", topic)
	h.Set("User-Agent", "Amazon Simple Notification Service Agent")
}
