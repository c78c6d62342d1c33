package webex

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SignatureHeader carries the hex HMAC-SHA1 of a delivery's raw body,
// keyed with the webhook's secret.
const SignatureHeader = "X-Spark-Signature"

// VerifySignature reports whether header is the hex HMAC-SHA1 of body
// keyed with secret, comparing in constant time. An empty secret verifies
// nothing.
func VerifySignature(body []byte, header string, secret []byte) bool {
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

// Delivery is the envelope Webex POSTs to a webhook's target URL. The
// envelope describes the webhook; Data is the object the event is about.
// Deliveries can repeat and arrive out of order, so handlers must be
// idempotent and compare states, not count events.
type Delivery struct {
	// ID is the webhook's id, not the event's.
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	TargetURL string    `json:"targetUrl"`
	Resource  string    `json:"resource"`
	Event     string    `json:"event"`
	Filter    string    `json:"filter,omitempty"`
	OrgID     string    `json:"orgId"`
	CreatedBy string    `json:"createdBy"`
	AppID     string    `json:"appId"`
	OwnedBy   string    `json:"ownedBy"`
	Status    string    `json:"status"`
	Created   time.Time `json:"created"`
	ActorID   string    `json:"actorId"`
	// Data is the meeting instance or recording, decoded by Meeting and
	// Recording.
	Data json.RawMessage `json:"data"`
}

// ParseDelivery decodes a delivery body. It does not check the signature.
func ParseDelivery(body []byte) (*Delivery, error) {
	var d Delivery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("webex: decode webhook delivery: %w", err)
	}
	if d.Resource == "" || d.Event == "" || len(d.Data) == 0 {
		return nil, errors.New("webex: webhook delivery without resource, event or data")
	}
	return &d, nil
}

// Meeting decodes the data of a meetings delivery: for started and ended,
// the meeting instance. Match it to a live session with SeriesID, not ID.
func (d *Delivery) Meeting() (*Meeting, error) {
	if d.Resource != ResourceMeetings {
		return nil, fmt.Errorf("webex: delivery is about %s, not meetings", d.Resource)
	}
	var m Meeting
	if err := json.Unmarshal(d.Data, &m); err != nil {
		return nil, fmt.Errorf("webex: decode meeting of delivery: %w", err)
	}
	return &m, nil
}

// Recording decodes the data of a recordings delivery. It has no download
// links: fetch them with GetRecording.
func (d *Delivery) Recording() (*Recording, error) {
	if d.Resource != ResourceRecordings {
		return nil, fmt.Errorf("webex: delivery is about %s, not recordings", d.Resource)
	}
	var r Recording
	if err := json.Unmarshal(d.Data, &r); err != nil {
		return nil, fmt.Errorf("webex: decode recording of delivery: %w", err)
	}
	return &r, nil
}
