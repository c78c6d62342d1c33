package sns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/edustream/edustream"
)

// Defaults of Config.
const (
	// DefaultKeep is how long a handled message id is remembered. SNS's
	// default policy retries for about a minute, custom policies for
	// longer; a replay after this is handled again, harmlessly.
	DefaultKeep = 24 * time.Hour
	// handleTimeout bounds the work of one delivery: SNS gives up after
	// 15 s, and an answer after that is wasted.
	handleTimeout = 12 * time.Second
	// claimLease is how long a delivery holds its message id: longer than
	// handleTimeout, short enough that a crashed holder does not make SNS's
	// retries fail for long.
	claimLease = 30 * time.Second
	// maxBodyBytes: an SNS payload is at most 256 KiB, which JSON escaping
	// in the envelope can about double.
	maxBodyBytes = 1 << 20
)

// Uploads starts the chain of a video whose source object exists. It is
// edustream.Uploads.Stored, the path completeVideoUpload ends in, so the S3
// event and the mutation for one object make one chain.
type Uploads interface {
	Stored(ctx context.Context, videoID int64) (*edustream.Video, error)
}

// EventHandler acts on the EventBridge events of one source (for example
// aws.mediaconvert). It returns EINVALID for an event it cannot read; nil
// for one it read and has nothing to do with; other errors mean try again.
type EventHandler interface {
	HandleEvent(ctx context.Context, detailType string, detail json.RawMessage) error
}

// Config configures the Handler.
type Config struct {
	// TopicARNs are the only topics whose messages are accepted.
	TopicARNs []string
	// Verifier checks signatures (required).
	Verifier *Verifier
	// Log remembers handled messages (required).
	Log edustream.MessageLog
	// Client calls SubscribeURLs (nil: the Verifier's kind of plain
	// client). Only URLs on SNS hosts are called.
	Client *http.Client
	// Bucket is the blob store's bucket; S3 events of other buckets are
	// ignored. Empty: S3 events are ignored.
	Bucket string
	// Uploads starts chains for stored sources (nil: S3 events are ignored).
	Uploads Uploads
	// EventSources handles EventBridge events by their source.
	EventSources map[string]EventHandler
	// Keep is how long a handled message id is remembered (0: DefaultKeep).
	Keep time.Duration
}

// Handler is the /sns endpoint.
type Handler struct {
	cfg    Config
	client *http.Client
}

// NewHandler returns the /sns handler. At least one topic, a Verifier and
// a MessageLog are required.
func NewHandler(cfg Config) (*Handler, error) {
	switch {
	case len(cfg.TopicARNs) == 0:
		return nil, errors.New("sns: no topic ARNs to accept")
	case cfg.Verifier == nil:
		return nil, errors.New("sns: no Verifier")
	case cfg.Log == nil:
		return nil, errors.New("sns: no MessageLog")
	}
	for _, arn := range cfg.TopicARNs {
		if !strings.HasPrefix(arn, "arn:aws") || strings.Count(arn, ":") != 5 {
			return nil, fmt.Errorf("sns: %q is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", arn)
		}
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: certFetchTimeout}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.TopicARNs = slices.Clone(cfg.TopicARNs)
	return &Handler{cfg: cfg, client: &c}, nil
}

// ServeHTTP handles one SNS delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), handleTimeout)
	defer cancel()
	outcome, authentic, err := h.serve(ctx, r)
	log := edustream.Logger(ctx)
	if err != nil {
		status := statusOf(err)
		// Anyone can post here: a refusal before the signature checks out
		// (forged, foreign, malformed, or a certificate that cannot be
		// fetched for it) is a warning, never an ERROR that pages someone.
		// Failing to handle a message SNS did send is one.
		level := slog.LevelWarn
		if status >= 500 && authentic {
			level = slog.LevelError
		}
		log.Log(ctx, level, "sns message refused", slog.Int("status", status), slog.Bool("authentic", authentic), slog.String("error", err.Error()))
		msg := edustream.ErrorMessage(err)
		if status >= 500 {
			msg = "temporarily unavailable; retry"
		}
		http.Error(w, msg, status)
		return
	}
	log.Info("sns message", slog.String("outcome", outcome))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, outcome+"\n")
}

// statusOf is the one place where the endpoint's errors become HTTP
// statuses, and so SNS's retry decisions: 4xx drops the message, 5xx has it
// retried.
func statusOf(err error) int {
	switch edustream.ErrorCode(err) {
	case edustream.EINVALID:
		return http.StatusBadRequest
	case edustream.EFORBIDDEN, edustream.EUNAUTHENTICATED:
		return http.StatusForbidden
	}
	return http.StatusServiceUnavailable
}

// serve checks a delivery and handles it once. It returns what happened,
// for the log and the answer, and whether the message proved to be SNS's.
func (h *Handler) serve(ctx context.Context, r *http.Request) (outcome string, authentic bool, err error) {
	m, err := h.verify(ctx, r)
	if err != nil {
		return "", false, err
	}
	outcome, err = h.handleOnce(ctx, m)
	return outcome, true, err
}

// verify reads the delivery and checks that SNS sent it.
func (h *Handler) verify(ctx context.Context, r *http.Request) (*Message, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return nil, edustream.Errorf(edustream.EINVALID, "read the body: %v", err)
	}
	m, err := parseMessage(body)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Header.Get("x-amz-sns-message-type") != m.Type:
		return nil, edustream.Errorf(edustream.EINVALID, "the x-amz-sns-message-type header %q does not match the body's %q", r.Header.Get("x-amz-sns-message-type"), m.Type)
	case !slices.Contains(h.cfg.TopicARNs, m.TopicArn):
		// Before the signature: a stranger's topic costs no certificate fetch.
		return nil, edustream.Errorf(edustream.EFORBIDDEN, "topic %s is not accepted here", m.TopicArn)
	}
	for header, want := range map[string]string{"x-amz-sns-topic-arn": m.TopicArn, "x-amz-sns-message-id": m.MessageID} {
		if got := r.Header.Get(header); got != "" && got != want {
			return nil, edustream.Errorf(edustream.EINVALID, "the %s header does not match the body", header)
		}
	}
	if err := h.cfg.Verifier.Verify(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// handleOnce handles a verified message unless another delivery of it
// was, or is being, handled.
func (h *Handler) handleOnce(ctx context.Context, m *Message) (string, error) {
	ctx = edustream.NewContextWithLogger(ctx, edustream.Logger(ctx).With(
		slog.String("sns_message_id", m.MessageID), slog.String("sns_type", m.Type), slog.String("sns_topic", m.TopicArn)))

	state, err := h.cfg.Log.ClaimMessage(ctx, m.MessageID, claimLease)
	switch {
	case err != nil:
		return "", err
	case state == edustream.MessageHandled:
		return "duplicate", nil
	case state == edustream.MessageInFlight:
		// Another delivery of it is being handled; if that one fails, this
		// retry must not have been swallowed, so come back later.
		return "", fmt.Errorf("message %s is being handled by another delivery", m.MessageID)
	}
	outcome, err := h.handle(ctx, m)
	if err != nil {
		if rerr := h.cfg.Log.ReleaseMessage(context.WithoutCancel(ctx), m.MessageID); rerr != nil {
			edustream.Logger(ctx).Warn("release an sns message", slog.String("error", rerr.Error()))
		}
		return "", err
	}
	if err := h.cfg.Log.FinishMessage(context.WithoutCancel(ctx), m.MessageID, h.cfg.Keep); err != nil {
		// Handled; a redelivery would be handled again, harmlessly.
		edustream.Logger(ctx).Warn("record an sns message as handled", slog.String("error", err.Error()))
	}
	return outcome, nil
}

func (h *Handler) handle(ctx context.Context, m *Message) (string, error) {
	log := edustream.Logger(ctx)
	switch m.Type {
	case TypeSubscriptionConfirmation:
		if err := h.confirm(ctx, m); err != nil {
			return "", err
		}
		log.Info("confirmed the sns subscription")
		return "subscription confirmed", nil
	case TypeUnsubscribeConfirmation:
		// Someone unsubscribed this endpoint: events stop arriving, and
		// only the reconcilers keep the chain going. Loud, on purpose.
		log.Warn("this endpoint was unsubscribed from an sns topic; resubscribe it to keep receiving events",
			slog.String("subscribe_url", m.SubscribeURL))
		return "unsubscribe noted", nil
	}
	return h.notification(ctx, m)
}

// confirm calls the SubscribeURL, after the same host rule as signing
// certificates, and only for a confirmation of the message's own topic.
func (h *Handler) confirm(ctx context.Context, m *Message) error {
	u, err := CheckSNSURL(m.SubscribeURL)
	if err != nil {
		return err
	}
	q := u.Query()
	if q.Get("Action") != "ConfirmSubscription" || q.Get("TopicArn") != m.TopicArn {
		return edustream.Errorf(edustream.EFORBIDDEN, "the SubscribeURL does not confirm topic %s", m.TopicArn)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return edustream.Errorf(edustream.EFORBIDDEN, "bad SubscribeURL: %v", err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("confirm the subscription: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 500:
		return fmt.Errorf("confirm the subscription: %s", resp.Status)
	case resp.StatusCode != http.StatusOK:
		// The token expired or was used: SNS will not take it, ever.
		return edustream.Errorf(edustream.EINVALID, "SNS refused the subscription confirmation: %s", resp.Status)
	}
	return nil
}

// notification acts on a notification's Message by what it holds: S3
// event notifications, S3's test event, EventBridge events.
func (h *Handler) notification(ctx context.Context, m *Message) (string, error) {
	var probe struct {
		Records    json.RawMessage `json:"Records"`
		Event      string          `json:"Event"`
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal([]byte(m.Message), &probe); err != nil {
		// Someone published by hand to the topic; SNS signed it, but it is
		// nothing EduStream sends itself.
		edustream.Logger(ctx).Warn("ignoring an sns notification that is not JSON")
		return "ignored: not JSON", nil
	}
	switch {
	case probe.Event == "s3:TestEvent":
		return "ignored: s3:TestEvent", nil
	case probe.Records != nil:
		return h.s3Event(ctx, probe.Records)
	case probe.Source != "" && probe.DetailType != "":
		handler, ok := h.cfg.EventSources[probe.Source]
		if !ok {
			edustream.Logger(ctx).Info("ignoring an event of an unknown source", slog.String("source", probe.Source))
			return "ignored: source " + probe.Source, nil
		}
		if err := handler.HandleEvent(ctx, probe.DetailType, probe.Detail); err != nil {
			return "", fmt.Errorf("%s event: %w", probe.Source, err)
		}
		return "event " + probe.Source, nil
	}
	edustream.Logger(ctx).Warn("ignoring an sns notification of an unknown kind")
	return "ignored: unknown kind", nil
}
