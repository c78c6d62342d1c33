package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/edustream/edustream"
)

// webexSignatureHeader carries the hex HMAC-SHA1 of a delivery's raw body,
// keyed with the webhook's secret.
const webexSignatureHeader = "X-Spark-Signature"

// DefaultWebhookBodyBytes bounds a Webex delivery: a meeting or recording
// envelope is a few kilobytes.
const DefaultWebhookBodyBytes = 1 << 20

// WebexWebhook configures /webhooks/webex, where Webex reports meetings
// starting and ending and recordings being made.
type WebexWebhook struct {
	// Secret is what the webhooks were registered with
	// (EDUSTREAM_WEBEX_WEBHOOK_SECRET). Deliveries not signed with it are
	// refused.
	Secret []byte
	// Events hears the verified deliveries.
	Events edustream.MeetingEvents
	// MaxBodyBytes bounds a delivery (0: DefaultWebhookBodyBytes).
	MaxBodyBytes int64
}

// webexDelivery is the part of a Webex webhook envelope EduStream reads.
// The envelope's id is the webhook's, not the event's, so it identifies
// nothing here.
type webexDelivery struct {
	Resource string          `json:"resource"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
}

// webexData is the meeting instance (meetings resource) or the recording
// (recordings resource) a delivery is about. Both name the meeting
// instance; its series, which a session stores, comes from
// meetingSeriesId or the instance id's prefix.
type webexData struct {
	ID              string `json:"id"`
	MeetingID       string `json:"meetingId"`
	MeetingSeriesID string `json:"meetingSeriesId"`
	MeetingNumber   string `json:"meetingNumber"`
}

// webexWebhook serves /webhooks/webex: it reads the raw body within the
// bound, checks its signature in constant time before anything else, and
// only then decodes it and hands it to the domain. A refused delivery
// changes nothing. A failure to handle a good one is a 5xx, so Webex may
// deliver it again; every handler is idempotent.
func webexWebhook(cfg WebexWebhook) http.Handler {
	limit := cfg.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultWebhookBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		log := edustream.Logger(ctx)
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, errorBody(edustream.PublicBadUserInput, "webhooks are POSTed"))
			return
		}
		if r.ContentLength > limit {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody(edustream.PublicBadUserInput, fmt.Sprintf("a delivery may be at most %d bytes", limit)))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			writeError(w, r, edustream.Errorf(edustream.EINVALID, "could not read the delivery"))
			return
		}
		if int64(len(body)) > limit {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody(edustream.PublicBadUserInput, fmt.Sprintf("a delivery may be at most %d bytes", limit)))
			return
		}
		if !validWebexSignature(body, r.Header.Get(webexSignatureHeader), cfg.Secret) {
			log.WarnContext(ctx, "refused a Webex webhook delivery with a missing or wrong signature", "remote", r.RemoteAddr)
			// No WWW-Authenticate: there is no scheme to retry with.
			writeJSON(w, http.StatusUnauthorized, errorBody(edustream.PublicUnauthenticated, "missing or invalid "+webexSignatureHeader))
			return
		}
		var d webexDelivery
		var data webexData
		if err := json.Unmarshal(body, &d); err != nil || len(d.Data) == 0 || json.Unmarshal(d.Data, &data) != nil {
			writeError(w, r, edustream.Errorf(edustream.EINVALID, "the delivery is not a Webex webhook envelope"))
			return
		}
		log = log.With(slog.String("resource", d.Resource), slog.String("event", d.Event), slog.String("data_id", data.ID))
		ctx = edustream.NewContextWithLogger(ctx, log)
		if err := dispatchWebex(ctx, cfg.Events, d, data); err != nil {
			writeError(w, r.WithContext(ctx), err)
			return
		}
		log.InfoContext(ctx, "webex webhook handled")
		w.WriteHeader(http.StatusNoContent)
	})
}

// dispatchWebex hands a verified delivery to the domain. Events EduStream
// did not subscribe to are acknowledged and ignored.
func dispatchWebex(ctx context.Context, events edustream.MeetingEvents, d webexDelivery, data webexData) error {
	switch d.Resource + "/" + d.Event {
	case "meetings/started", "meetings/ended":
		if data.ID == "" && data.MeetingSeriesID == "" && data.MeetingNumber == "" {
			return edustream.Errorf(edustream.EINVALID, "the meeting of the delivery has no id")
		}
		e := edustream.MeetingEvent{MeetingID: data.ID, SeriesID: data.MeetingSeriesID, MeetingNumber: data.MeetingNumber}
		if d.Event == "started" {
			return events.MeetingStarted(ctx, e)
		}
		return events.MeetingEnded(ctx, e)
	case "recordings/created":
		series := edustream.MeetingEvent{MeetingID: data.MeetingID, SeriesID: data.MeetingSeriesID}.Series()
		return events.RecordingCreated(ctx, edustream.RecordingEvent{RecordingID: data.ID, SeriesID: series})
	}
	edustream.Logger(ctx).DebugContext(ctx, "ignored a webex webhook delivery")
	return nil
}

// validWebexSignature reports whether header is the hex HMAC-SHA1 of body
// keyed with secret, compared in constant time. No secret verifies
// nothing.
func validWebexSignature(body []byte, header string, secret []byte) bool {
	if len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(strings.TrimSpace(header))
	if err != nil || len(got) != sha1.Size {
		return false
	}
	mac := hmac.New(sha1.New, secret)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), got)
}
