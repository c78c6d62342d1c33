package sns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/edustream/edustream"
	"github.com/edustream/edustream/internal/testenv"
	"github.com/edustream/edustream/sns"
	"github.com/edustream/edustream/sns/snstest"
	"github.com/edustream/edustream/storage/redis"
)

const bucket = "edustream-videos"

// bundle is one endpoint under test with its fakes.
type bundle struct {
	sns     *snstest.Server
	topic   *snstest.Topic
	uploads *fakeUploads
	events  *fakeEvents
	log     edustream.MessageLog
	handler http.Handler
	logs    *testenv.LogBuffer
	mini    *miniredis.Miniredis
}

// setup returns an endpoint that accepts topic "uploads" of a fresh fake
// SNS, with its message log on a miniredis the test may stop.
func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWithClock(t, nil)
}

// setupWithClock is setup with the clock certificates are checked by (nil:
// time.Now).
func setupWithClock(t *testing.T, now func() time.Time) *bundle {
	t.Helper()
	b := &bundle{sns: snstest.NewServer(t), uploads: &fakeUploads{}, events: &fakeEvents{}, logs: &testenv.LogBuffer{}}
	b.topic = b.sns.Topic("uploads")
	b.mini = miniredis.RunT(t)
	b.mini.ClockTTL(true)
	rdb := goredis.NewClient(&goredis.Options{Addr: b.mini.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	b.log = redis.NewMessageLog(rdb)
	h, err := sns.NewHandler(sns.Config{
		TopicARNs:    []string{b.topic.ARN},
		Verifier:     sns.NewVerifier(b.sns.Client(), now),
		Log:          b.log,
		Client:       b.sns.Client(),
		Bucket:       bucket,
		Uploads:      b.uploads,
		EventSources: map[string]sns.EventHandler{"aws.mediaconvert": b.events},
	})
	if err != nil {
		t.Fatal(err)
	}
	b.handler = b.withLogger(h)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("endpoint log:\n%s", b.logs)
		}
	})
	return b
}

// withLogger serves h with the bundle's captured logger.
func (b *bundle) withLogger(h http.Handler) http.Handler {
	logger := slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(edustream.NewContextWithLogger(r.Context(), logger)))
	})
}

// wantRefusalLogged checks that the endpoint logged one refusal, at level.
func (b *bundle) wantRefusalLogged(t *testing.T, level string) {
	t.Helper()
	lines := b.logs.Records(t, "sns message refused")
	if len(lines) != 1 || lines[0]["level"] != level {
		t.Errorf("refusals logged: %v, want one at %s", lines, level)
	}
}

// deliver sends m and checks the answer's status.
func (b *bundle) deliver(t *testing.T, m *snstest.Message, want int) string {
	t.Helper()
	status, body := snstest.Deliver(b.handler, m)
	if status != want {
		t.Fatalf("delivery answered %d %q, want %d", status, body, want)
	}
	return body
}

// sourceEvent is the S3 event of video id's source object.
func sourceEvent(id, seq string) string {
	return snstest.S3Event(snstest.S3Object{Bucket: bucket, Key: "videos/" + id + "/source", Size: 1 << 20, ETag: "0123456789abcdef0123456789abcdef-2", Sequencer: seq})
}

// fakeUploads records Stored calls and answers with errs[videoID].
type fakeUploads struct {
	mu     sync.Mutex
	stored []int64
	errs   map[int64]error
}

func (f *fakeUploads) Stored(_ context.Context, id int64) (*edustream.Video, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored = append(f.stored, id)
	if err := f.errs[id]; err != nil {
		return nil, err
	}
	return &edustream.Video{ID: id, Status: edustream.VideoUploaded, Stage: edustream.StageProbe}, nil
}

func (f *fakeUploads) calls() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.stored)
}

func (f *fakeUploads) fail(id int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errs == nil {
		f.errs = map[int64]error{}
	}
	f.errs[id] = err
}

// fakeEvents records EventBridge events and answers with err.
type fakeEvents struct {
	mu     sync.Mutex
	got    []string
	err    error
	detail []json.RawMessage
}

func (f *fakeEvents) HandleEvent(_ context.Context, detailType string, detail json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, detailType)
	f.detail = append(f.detail, detail)
	return f.err
}

func TestAcceptsSignedMessages(t *testing.T) {
	t.Parallel()
	subject := "Amazon S3 Notification"
	empty := ""
	tests := []struct {
		name    string
		version string
		subject *string
	}{
		{"version 1, no subject", "1", nil},
		{"version 2, no subject", "2", nil},
		{"version 1 with subject", "1", &subject},
		{"version 2 with subject", "2", &subject},
		{"version 1, empty subject", "1", &empty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			b.topic.SignatureVersion = tt.version
			b.deliver(t, b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), tt.subject), http.StatusOK)
			if got := b.uploads.calls(); !slices.Equal(got, []int64{12}) {
				t.Errorf("Stored calls = %v, want [12]", got)
			}
		})
	}
}

// Nothing forged, foreign or malformed gets through: each is refused with
// a 4xx (which SNS does not retry), and nothing is started.
func TestRefusesForgedForeignAndMalformed(t *testing.T) {
	t.Parallel()
	other := snstest.NewServer(t)
	tests := []struct {
		name string
		// change turns a valid, signed message into the one delivered;
		// resign signs it again afterwards (so only the change is wrong).
		change func(b *bundle, m *snstest.Message)
		resign bool
		status int
		// fetched is whether the certificate may be fetched at all.
		fetched bool
	}{
		{"foreign certificate host", func(_ *bundle, m *snstest.Message) {
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-0.pem"
		}, true, http.StatusForbidden, false},
		{"certificate on another domain", func(_ *bundle, m *snstest.Message) {
			m.SigningCertURL = "https://evil.example/SimpleNotificationService-0.pem"
		}, true, http.StatusForbidden, false},
		{"certificate host too short a region", func(_ *bundle, m *snstest.Message) {
			m.SigningCertURL = "https://sns.a.amazonaws.com" + snstest.CertPath
		}, true, http.StatusForbidden, false},
		{"http certificate URL", func(_ *bundle, m *snstest.Message) {
			m.SigningCertURL = "http://sns.us-east-1.amazonaws.com" + snstest.CertPath
		}, true, http.StatusForbidden, false},
		{"certificate URL with a port", func(_ *bundle, m *snstest.Message) {
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com:8443" + snstest.CertPath
		}, true, http.StatusForbidden, false},
		{"certificate URL with a user", func(_ *bundle, m *snstest.Message) {
			m.SigningCertURL = "https://evil@sns.us-east-1.amazonaws.com" + snstest.CertPath
		}, true, http.StatusForbidden, false},
		{"certificate that is not .pem", func(_ *bundle, m *snstest.Message) {
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/cert.der"
		}, true, http.StatusForbidden, false},
		{"certificate missing on the SNS host", func(_ *bundle, m *snstest.Message) {
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/missing.pem"
		}, true, http.StatusForbidden, true},
		{"expired certificate", func(b *bundle, m *snstest.Message) {
			b.sns.ServeFile("/expired.pem", b.sns.SigningCertificate(time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)))
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/expired.pem"
		}, true, http.StatusForbidden, true},
		{"certificate not yet valid", func(b *bundle, m *snstest.Message) {
			b.sns.ServeFile("/future.pem", b.sns.SigningCertificate(time.Now().Add(time.Hour), time.Now().Add(48*time.Hour)))
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/future.pem"
		}, true, http.StatusForbidden, true},
		{"ECDSA certificate", func(b *bundle, m *snstest.Message) {
			b.sns.ServeFile("/ecdsa.pem", b.sns.ECDSACertificate())
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/ecdsa.pem"
		}, true, http.StatusForbidden, true},
		{"not a certificate", func(b *bundle, m *snstest.Message) {
			b.sns.ServeFile("/junk.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/junk.pem"
		}, true, http.StatusForbidden, true},
		{"unknown topic", func(_ *bundle, m *snstest.Message) {
			m.TopicArn = "arn:aws:sns:us-east-1:444455556666:someone-elses"
		}, true, http.StatusForbidden, false},
		{"tampered message", func(_ *bundle, m *snstest.Message) {
			m.Message = sourceEvent("13", "0055AED6DCD90281E5")
		}, false, http.StatusForbidden, true},
		{"tampered message id", func(_ *bundle, m *snstest.Message) {
			m.MessageID = "another-id"
		}, false, http.StatusForbidden, true},
		{"subject added", func(_ *bundle, m *snstest.Message) {
			s := "hello"
			m.Subject = &s
		}, false, http.StatusForbidden, true},
		{"signed by another key", func(_ *bundle, m *snstest.Message) {
			other.Topic("uploads").Sign(m)
		}, false, http.StatusForbidden, true},
		{"signature version 3", func(_ *bundle, m *snstest.Message) {
			m.SignatureVersion = "3"
		}, false, http.StatusForbidden, false},
		{"version 1 signature claimed as version 2", func(_ *bundle, m *snstest.Message) {
			m.SignatureVersion = "2"
		}, false, http.StatusForbidden, true},
		{"signature not base64", func(_ *bundle, m *snstest.Message) {
			m.Signature = "not base64!"
		}, false, http.StatusForbidden, false},
		{"unknown type", func(_ *bundle, m *snstest.Message) {
			m.Type = "Surprise"
		}, true, http.StatusBadRequest, false},
		{"no message id", func(_ *bundle, m *snstest.Message) {
			m.MessageID = ""
		}, true, http.StatusBadRequest, false},
		{"no signature", func(_ *bundle, m *snstest.Message) {
			m.Signature = ""
		}, false, http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			m := b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), nil)
			tt.change(b, m)
			if tt.resign {
				b.topic.Sign(m)
			}
			b.deliver(t, m, tt.status)
			if got := b.uploads.calls(); len(got) != 0 {
				t.Errorf("Stored calls = %v, want none", got)
			}
			if !tt.fetched && b.sns.Requests() != 0 {
				t.Errorf("the SNS host was asked %d times for a message refused before any fetch", b.sns.Requests())
			}
			// Anyone can post: a refusal is a warning, not an error.
			b.wantRefusalLogged(t, "WARN")
		})
	}
}

func TestRefusesBadRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), nil)
	body, _ := json.Marshal(m)
	tests := []struct {
		name   string
		send   func() (int, string)
		status int
	}{
		{"header names another type", func() (int, string) {
			return snstest.DeliverRaw(b.handler, "SubscriptionConfirmation", m.MessageID, m.TopicArn, body)
		}, http.StatusBadRequest},
		{"header names another topic", func() (int, string) {
			return snstest.DeliverRaw(b.handler, m.Type, m.MessageID, "arn:aws:sns:us-east-1:111122223333:other", body)
		}, http.StatusBadRequest},
		{"not JSON", func() (int, string) {
			return snstest.DeliverRaw(b.handler, m.Type, m.MessageID, m.TopicArn, []byte("<xml/>"))
		}, http.StatusBadRequest},
		{"too large", func() (int, string) {
			return snstest.DeliverRaw(b.handler, m.Type, m.MessageID, m.TopicArn, bytes.Repeat([]byte(" "), 2<<20))
		}, http.StatusBadRequest},
		{"GET", func() (int, string) {
			w := &statusRecorder{header: http.Header{}}
			r, _ := http.NewRequest(http.MethodGet, "/sns", nil)
			b.handler.ServeHTTP(w, r)
			return w.status, ""
		}, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := tt.send(); status != tt.status {
				t.Errorf("answered %d %q, want %d", status, body, tt.status)
			}
		})
	}
	if got := b.uploads.calls(); len(got) != 0 {
		t.Errorf("Stored calls = %v, want none", got)
	}
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *statusRecorder) WriteHeader(s int)           { r.status = s }

// SNS delivers at least once, and a captured message can be replayed: a
// message id is handled once.
func TestReplayedMessageIsHandledOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), nil)
	if body := b.deliver(t, m, http.StatusOK); strings.Contains(body, "duplicate") {
		t.Errorf("first delivery answered %q", body)
	}
	for range 3 {
		if body := b.deliver(t, m, http.StatusOK); body != "duplicate" {
			t.Errorf("replay answered %q, want duplicate", body)
		}
	}
	if got := b.uploads.calls(); !slices.Equal(got, []int64{12}) {
		t.Errorf("Stored calls = %v, want one for 12", got)
	}
}

// A delivery while another delivery of the same message is being handled
// is told to come back: if the first fails, the message is not lost.
func TestMessageInFlightIsRetriedLater(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), nil)
	if _, err := b.log.ClaimMessage(context.Background(), m.MessageID, time.Minute); err != nil {
		t.Fatal(err)
	}
	b.deliver(t, m, http.StatusServiceUnavailable)
	if err := b.log.ReleaseMessage(context.Background(), m.MessageID); err != nil {
		t.Fatal(err)
	}
	b.deliver(t, m, http.StatusOK)
	if got := b.uploads.calls(); !slices.Equal(got, []int64{12}) {
		t.Errorf("Stored calls = %v, want one for 12", got)
	}
}

// Trouble on this side is answered with 5xx, so SNS retries, and the
// retry is handled once the trouble is over.
func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	t.Run("database down", func(t *testing.T) {
		b := setup(t)
		b.uploads.fail(12, errors.New("dial tcp 10.0.0.5:3306: connection refused"))
		m := b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), nil)
		b.deliver(t, m, http.StatusServiceUnavailable)
		b.uploads.fail(12, nil)
		b.deliver(t, m, http.StatusOK)
		if got := b.uploads.calls(); !slices.Equal(got, []int64{12, 12}) {
			t.Errorf("Stored calls = %v, want the failed one and the retry", got)
		}
	})
	t.Run("redis down", func(t *testing.T) {
		b := setup(t)
		m := b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), nil)
		b.mini.Close()
		b.deliver(t, m, http.StatusServiceUnavailable)
		if got := b.uploads.calls(); len(got) != 0 {
			t.Errorf("Stored calls = %v without a message log, want none", got)
		}
		if err := b.mini.Restart(); err != nil {
			t.Fatal(err)
		}
		b.deliver(t, m, http.StatusOK)
	})
	t.Run("certificate host unreachable", func(t *testing.T) {
		b := setup(t)
		h, err := sns.NewHandler(sns.Config{
			TopicARNs: []string{b.topic.ARN},
			// Dials fail: the SNS host is "down".
			Verifier: sns.NewVerifier(&http.Client{Transport: &http.Transport{
				DialContext: func(context.Context, string, string) (net.Conn, error) {
					return nil, errors.New("network is unreachable")
				},
			}}, nil),
			Log:     b.log,
			Bucket:  bucket,
			Uploads: b.uploads,
		})
		if err != nil {
			t.Fatal(err)
		}
		if status, body := snstest.Deliver(b.withLogger(h), b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), nil)); status != http.StatusServiceUnavailable {
			t.Errorf("answered %d %q, want 503", status, body)
		}
		// Not yet known to be SNS's: anyone can post a message naming a
		// certificate, so this is no error of ours.
		b.wantRefusalLogged(t, "WARN")
	})
}

// The signing certificate is fetched once, however many messages use it,
// including many at once.
func TestCertificateIsCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	for i := range 10 {
		m := b.topic.Notification(sourceEvent("12", fmt.Sprintf("0055AED6DCD902%04X", i)), nil)
		wg.Go(func() {
			if status, body := snstest.Deliver(b.handler, m); status != http.StatusOK {
				t.Errorf("answered %d %q", status, body)
			}
		})
	}
	wg.Wait()
	if n := b.sns.Fetches(snstest.CertPath); n != 1 {
		t.Errorf("the certificate was fetched %d times, want 1", n)
	}
}

func TestSubscriptionConfirmation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.topic.Confirmation(sns.TypeSubscriptionConfirmation)
	b.deliver(t, m, http.StatusOK)
	if got := b.sns.Confirmed(); !slices.Equal(got, []string{m.Token}) {
		t.Errorf("confirmed tokens = %v, want [%s]", got, m.Token)
	}
	// SNS may deliver the confirmation again; it is confirmed once.
	b.deliver(t, m, http.StatusOK)
	if got := b.sns.Confirmed(); len(got) != 1 {
		t.Errorf("confirmed %d times, want once", len(got))
	}

	t.Run("SubscribeURL off SNS", func(t *testing.T) {
		m := b.topic.Confirmation(sns.TypeSubscriptionConfirmation)
		m.SubscribeURL = "https://evil.example/?Action=ConfirmSubscription&TopicArn=" + b.topic.ARN + "&Token=" + m.Token
		b.topic.Sign(m)
		b.deliver(t, m, http.StatusForbidden)
	})
	t.Run("SubscribeURL of another topic", func(t *testing.T) {
		m := b.topic.Confirmation(sns.TypeSubscriptionConfirmation)
		m.SubscribeURL = strings.Replace(m.SubscribeURL, "uploads", "other", 1)
		b.topic.Sign(m)
		b.deliver(t, m, http.StatusForbidden)
	})
	t.Run("unknown topic", func(t *testing.T) {
		m := b.sns.Topic("other").Confirmation(sns.TypeSubscriptionConfirmation)
		b.deliver(t, m, http.StatusForbidden)
	})
	if got := b.sns.Confirmed(); len(got) != 1 {
		t.Errorf("confirmed %d subscriptions, want only the first", len(got))
	}

	// A token SNS will never take is a 400, so SNS stops delivering the
	// confirmation; an SNS outage is a 503, so it delivers it again, and
	// the retry confirms.
	t.Run("SNS refuses the token", func(t *testing.T) {
		b.sns.RefuseConfirmations(http.StatusBadRequest, "InvalidParameter")
		defer b.sns.RefuseConfirmations(0, "")
		b.deliver(t, b.topic.Confirmation(sns.TypeSubscriptionConfirmation), http.StatusBadRequest)
	})
	t.Run("SNS is down", func(t *testing.T) {
		m := b.topic.Confirmation(sns.TypeSubscriptionConfirmation)
		b.sns.RefuseConfirmations(http.StatusInternalServerError, "InternalError")
		b.deliver(t, m, http.StatusServiceUnavailable)
		b.sns.RefuseConfirmations(0, "")
		b.deliver(t, m, http.StatusOK)
		if got := b.sns.Confirmed(); len(got) != 2 || got[1] != m.Token {
			t.Errorf("confirmed tokens = %v, want the retried one last", got)
		}
	})

	t.Run("unsubscribe is logged", func(t *testing.T) {
		b.deliver(t, b.topic.Confirmation(sns.TypeUnsubscribeConfirmation), http.StatusOK)
		if lines := b.logs.Records(t, "this endpoint was unsubscribed from an sns topic; resubscribe it to keep receiving events"); len(lines) != 1 || lines[0]["level"] != "WARN" {
			t.Errorf("unsubscribe log lines = %v, want one warning", lines)
		}
		if got := b.sns.Confirmed(); len(got) != 2 {
			t.Errorf("an unsubscribe confirmed a subscription")
		}
	})
}

func TestS3Events(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		message string
		// failWith makes Stored of video 12 fail with this error.
		failWith error
		stored   []int64
		outcome  string
		logged   string
	}{
		{"source of an upload", sourceEvent("12", "00A1"), nil, []int64{12}, "1 of 1", ""},
		{"s3:TestEvent", snstest.S3TestEvent(bucket), nil, nil, "ignored: s3:TestEvent", ""},
		{"another bucket", snstest.S3Event(snstest.S3Object{Bucket: "someone-else", Key: "videos/12/source", Sequencer: "00A1"}), nil, nil, "0 of 1", "ignoring an S3 event of another bucket"},
		{"removed, not created", snstest.S3Event(snstest.S3Object{Bucket: bucket, Key: "videos/12/source", Sequencer: "00A1", EventName: "ObjectRemoved:Delete"}), nil, nil, "0 of 1", ""},
		{"an output, not a source", snstest.S3Event(snstest.S3Object{Bucket: bucket, Key: "videos/12/hls/master.m3u8", Sequencer: "00A1"}), nil, nil, "0 of 1",
			"ignoring an object under the upload prefix that is not an upload's source"},
		{"key with spaces and a plus", snstest.S3Event(snstest.S3Object{Bucket: bucket, Key: "videos/12/my lecture+notes.mp4", Sequencer: "00A1"}), nil, nil, "0 of 1",
			"ignoring an object under the upload prefix that is not an upload's source"},
		{"no upload knows it", sourceEvent("12", "00A1"), edustream.Errorf(edustream.ENOTFOUND, "video 12 not found"), []int64{12}, "0 of 1",
			"ignoring an object under the upload prefix that no upload knows"},
		{"upload replaced", sourceEvent("12", "00A1"), edustream.Errorf(edustream.ECONFLICT, "upload 12 was replaced by a newer upload"), []int64{12}, "0 of 1",
			"the upload does not take this object"},
		{"outside the upload prefix", snstest.S3Event(snstest.S3Object{Bucket: bucket, Key: "exports/report.csv", Sequencer: "00A1"}), nil, nil, "0 of 1", ""},
		{"several records", snstest.S3Event(
			snstest.S3Object{Bucket: bucket, Key: "videos/12/source", Sequencer: "00A1"},
			snstest.S3Object{Bucket: bucket, Key: "videos/13/source", Sequencer: "00A2"}), nil, []int64{12, 13}, "2 of 2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			b.uploads.fail(12, tt.failWith)
			body := b.deliver(t, b.topic.Notification(tt.message, nil), http.StatusOK)
			if !strings.Contains(body, tt.outcome) {
				t.Errorf("outcome %q, want it to say %q", body, tt.outcome)
			}
			if got := b.uploads.calls(); !slices.Equal(got, tt.stored) {
				t.Errorf("Stored calls = %v, want %v", got, tt.stored)
			}
			if tt.logged != "" && len(b.logs.Records(t, tt.logged)) != 1 {
				t.Errorf("want one log line %q", tt.logged)
			}
		})
	}
}

// The key in the log line is the decoded one: "+" is a space, "%2B" a plus.
func TestS3KeyIsDecoded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deliver(t, b.topic.Notification(snstest.S3Event(snstest.S3Object{Bucket: bucket, Key: "videos/12/my lecture+notes.mp4"}), nil), http.StatusOK)
	lines := b.logs.Records(t, "ignoring an object under the upload prefix that is not an upload's source")
	if len(lines) != 1 || lines[0]["key"] != "videos/12/my lecture+notes.mp4" {
		t.Errorf("log lines = %v, want the decoded key", lines)
	}
}

func TestParseS3Records(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, size, sequencer string
		want                       sns.S3Record
		invalid                    bool
	}{
		{name: "plain", key: "videos/1/source", size: "42", sequencer: "0055AED6DCD90281E5",
			want: sns.S3Record{Key: "videos/1/source", Sequencer: "0055AED6DCD90281E5" + strings.Repeat("0", 46)}},
		{name: "plus is a space", key: "a+b", size: "0", want: sns.S3Record{Key: "a b"}},
		{name: "encoded plus is a plus", key: "a%2Bb", size: "0", want: sns.S3Record{Key: "a+b"}},
		{name: "both", key: "my+lecture%2B1.mp4", size: "0", want: sns.S3Record{Key: "my lecture+1.mp4"}},
		{name: "encoded unicode", key: "caf%C3%A9", size: "0", want: sns.S3Record{Key: "café"}},
		{name: "lower-case sequencer", key: "k", size: "0", sequencer: "00a1", want: sns.S3Record{Key: "k", Sequencer: "00A1" + strings.Repeat("0", 60)}},
		{name: "bad escape", key: "a%zz", size: "0", invalid: true},
		// A size S3 would not send refuses nothing: it is not read.
		{name: "odd size", key: "k", size: "-1", want: sns.S3Record{Key: "k"}},
		{name: "sequencer not hex", key: "k", size: "0", sequencer: "XYZ", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"` + tt.key + `","size":` + tt.size + `,"sequencer":"` + tt.sequencer + `"}}}]`
			got, err := sns.ParseS3Records(json.RawMessage(raw))
			if tt.invalid {
				if edustream.ErrorCode(err) != edustream.EINVALID {
					t.Errorf("err = %v, want EINVALID", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.EventName, tt.want.Bucket = "ObjectCreated:Put", "b"
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Sequencers order events per key: padded on the right, then compared.
func TestNormalizeSequencer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		earlier, later string
	}{
		{"0055AED6DCD90281E5", "0055AED6DCD90281E6"},
		// Different lengths: "0A" pads to "0A00…", after "09FF…".
		{"09FF", "0A"},
		{"0055AED6DCD90281E5", "0055AED6DCD90281E501"},
		{"00a1", "00A2"},
	}
	for _, tt := range tests {
		a, err := sns.NormalizeSequencer(tt.earlier)
		if err != nil {
			t.Fatal(err)
		}
		b, err := sns.NormalizeSequencer(tt.later)
		if err != nil {
			t.Fatal(err)
		}
		if a >= b {
			t.Errorf("%s normalizes to %s, not before %s's %s", tt.earlier, a, tt.later, b)
		}
	}
}

// S3 delivers events at least once, and out of order: the same event in
// several SNS messages starts the chain once, and an older event after a
// newer one is not acted on.
func TestS3SequencerPerKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 3 {
		b.deliver(t, b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E5"), nil), http.StatusOK)
	}
	b.deliver(t, b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E4"), nil), http.StatusOK)
	if got := b.uploads.calls(); !slices.Equal(got, []int64{12}) {
		t.Errorf("Stored calls = %v, want one for 12", got)
	}
	b.deliver(t, b.topic.Notification(sourceEvent("12", "0055AED6DCD90281E6"), nil), http.StatusOK)
	b.deliver(t, b.topic.Notification(sourceEvent("13", "0055AED6DCD90281E5"), nil), http.StatusOK)
	if got := b.uploads.calls(); !slices.Equal(got, []int64{12, 12, 13}) {
		t.Errorf("Stored calls = %v, want a later event of 12 and the event of 13 acted on", got)
	}
}

func TestEventBridgeEvents(t *testing.T) {
	t.Parallel()
	event := func(source string) string {
		return `{"version":"0","id":"1234abcd-12ab-34cd-56ef-1234567890ab","detail-type":"MediaConvert Job State Change","source":"` + source +
			`","account":"111122223333","time":"2022-12-19T19:20:21Z","region":"us-east-1","resources":[],"detail":{"jobId":"1671477617078-2886ye","status":"PROGRESSING"}}`
	}
	tests := []struct {
		name    string
		source  string
		err     error
		status  int
		handled bool
		// level is that of the refusal logged, "" for none.
		level string
	}{
		{"handled", "aws.mediaconvert", nil, http.StatusOK, true, ""},
		{"unreadable detail", "aws.mediaconvert", edustream.Errorf(edustream.EINVALID, "no jobId"), http.StatusBadRequest, true, "WARN"},
		// SNS's own message that we failed to handle: ours to look at.
		{"handler trouble", "aws.mediaconvert", errors.New("database is down"), http.StatusServiceUnavailable, true, "ERROR"},
		{"unknown source", "aws.medialive", nil, http.StatusOK, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			b.events.err = tt.err
			b.deliver(t, b.topic.Notification(event(tt.source), nil), tt.status)
			if handled := len(b.events.got) == 1; handled != tt.handled {
				t.Fatalf("handler called %d times, want handled=%v", len(b.events.got), tt.handled)
			}
			if tt.level != "" {
				b.wantRefusalLogged(t, tt.level)
			} else if lines := b.logs.Records(t, "sns message refused"); len(lines) != 0 {
				t.Errorf("refusals logged: %v, want none", lines)
			}
			if tt.handled && (b.events.got[0] != "MediaConvert Job State Change" || !strings.Contains(string(b.events.detail[0]), `"jobId":"1671477617078-2886ye"`)) {
				t.Errorf("handler got %q %s", b.events.got[0], b.events.detail[0])
			}
		})
	}
}

// A certificate is checked for its validity on every use, not only when
// fetched: once the cached one expires, messages signed with it are
// refused.
func TestCachedCertificateExpires(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	b := setupWithClock(t, func() time.Time { return time.Unix(clock.Load(), 0) })
	b.deliver(t, b.topic.Notification(sourceEvent("1", "01"), nil), http.StatusOK)
	clock.Add(int64(48 * time.Hour / time.Second)) // the fake's certificate lasts a day
	body := b.deliver(t, b.topic.Notification(sourceEvent("2", "01"), nil), http.StatusForbidden)
	if !strings.Contains(body, "not now") || b.sns.Fetches(snstest.CertPath) != 1 {
		t.Errorf("answer %q after %d fetches; want the cached certificate refused", body, b.sns.Fetches(snstest.CertPath))
	}
	if got := b.uploads.calls(); !slices.Equal(got, []int64{1}) {
		t.Errorf("stored %v, want only the message before the expiry", got)
	}
}

func TestNewHandlerChecksConfig(t *testing.T) {
	t.Parallel()
	v := sns.NewVerifier(nil, nil)
	log := redis.NewMessageLog(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}))
	tests := []struct {
		name string
		cfg  sns.Config
	}{
		{"no topics", sns.Config{Verifier: v, Log: log}},
		{"not an ARN", sns.Config{TopicARNs: []string{"uploads"}, Verifier: v, Log: log}},
		{"no verifier", sns.Config{TopicARNs: []string{"arn:aws:sns:us-east-1:111122223333:uploads"}, Log: log}},
		{"no log", sns.Config{TopicARNs: []string{"arn:aws:sns:us-east-1:111122223333:uploads"}, Verifier: v}},
	}
	for _, tt := range tests {
		if _, err := sns.NewHandler(tt.cfg); err == nil {
			t.Errorf("%s: NewHandler succeeded", tt.name)
		}
	}
}
