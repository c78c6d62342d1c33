package webex

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/edustream/edustream"
)

// DefaultWebhookBodyBytes bounds a delivery: a meeting or recording
// envelope is a few kilobytes.
const DefaultWebhookBodyBytes = 1 << 20

// WebhookConfig configures the handler of Webex's deliveries.
type WebhookConfig struct {
	// Secret is what the webhooks were registered with. Deliveries not
	// signed with it are refused.
	Secret []byte
	// Events hears the verified deliveries.
	Events edustream.MeetingEvents
	// MaxBodyBytes bounds a delivery (0: DefaultWebhookBodyBytes).
	MaxBodyBytes int64
}

// NewWebhookHandler returns the target of the webhooks EnsureWebhooks
// registers. It reads the raw body within the bound and checks its
// signature in constant time before anything else; only then does it decode
// the delivery and hand it to the domain. A refused delivery changes
// nothing. A failure to handle a good one is a 5xx, so Webex may deliver it
// again; the domain's handlers are idempotent.
func NewWebhookHandler(cfg WebhookConfig) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultWebhookBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		log := edustream.Logger(ctx)
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
			return
		}
		tooLarge := fmt.Sprintf("a delivery may be at most %d bytes", cfg.MaxBodyBytes)
		if r.ContentLength > cfg.MaxBodyBytes {
			http.Error(w, tooLarge, http.StatusRequestEntityTooLarge)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, cfg.MaxBodyBytes+1))
		if err != nil {
			http.Error(w, "could not read the delivery", http.StatusBadRequest)
			return
		}
		if int64(len(body)) > cfg.MaxBodyBytes {
			http.Error(w, tooLarge, http.StatusRequestEntityTooLarge)
			return
		}
		if !VerifySignature(body, r.Header.Get(SignatureHeader), cfg.Secret) {
			log.WarnContext(ctx, "refused a Webex webhook delivery with a missing or wrong signature", "remote", r.RemoteAddr)
			// No WWW-Authenticate: there is no scheme to retry with.
			http.Error(w, "missing or invalid "+SignatureHeader, http.StatusUnauthorized)
			return
		}
		d, err := ParseDelivery(body)
		if err != nil {
			http.Error(w, "the delivery is not a Webex webhook envelope", http.StatusBadRequest)
			return
		}
		log = log.With(slog.String("resource", d.Resource), slog.String("event", d.Event))
		ctx = edustream.NewContextWithLogger(ctx, log)
		if err := dispatch(ctx, cfg.Events, d); err != nil {
			if edustream.ErrorCode(err) == edustream.EINVALID {
				log.WarnContext(ctx, "refused a Webex webhook delivery", "error", err)
				http.Error(w, edustream.ErrorMessage(err), http.StatusBadRequest)
				return
			}
			log.ErrorContext(ctx, "webex webhook failed; Webex will deliver it again", "error", err)
			http.Error(w, "temporarily unavailable; retry", http.StatusServiceUnavailable)
			return
		}
		log.InfoContext(ctx, "webex webhook handled")
		w.WriteHeader(http.StatusNoContent)
	})
}

// dispatch hands a verified delivery to the domain. Events EduStream did
// not subscribe to are acknowledged and ignored.
func dispatch(ctx context.Context, events edustream.MeetingEvents, d *Delivery) error {
	switch d.Resource + "/" + d.Event {
	case ResourceMeetings + "/" + EventStarted, ResourceMeetings + "/" + EventEnded:
		m, err := d.Meeting()
		if err != nil {
			return edustream.Errorf(edustream.EINVALID, "the meeting of the delivery does not decode")
		}
		if m.ID == "" && m.MeetingSeriesID == "" && m.MeetingNumber == "" {
			return edustream.Errorf(edustream.EINVALID, "the meeting of the delivery has no id")
		}
		e := edustream.MeetingEvent{MeetingID: m.ID, SeriesID: m.MeetingSeriesID, MeetingNumber: m.MeetingNumber}
		if d.Event == EventStarted {
			return events.MeetingStarted(ctx, e)
		}
		return events.MeetingEnded(ctx, e)
	case ResourceRecordings + "/" + EventCreated:
		rec, err := d.Recording()
		if err != nil {
			return edustream.Errorf(edustream.EINVALID, "the recording of the delivery does not decode")
		}
		return events.RecordingCreated(ctx, edustream.RecordingEvent{RecordingID: rec.ID, SeriesID: rec.SeriesID()})
	}
	edustream.Logger(ctx).DebugContext(ctx, "ignored a webex webhook delivery")
	return nil
}
