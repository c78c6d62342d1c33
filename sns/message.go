// Package sns is EduStream's Amazon SNS HTTPS endpoint (/sns): it verifies
// every delivery (signature, signing certificate, topic), confirms
// subscriptions, deduplicates redeliveries, and acts on the two kinds of
// notification EduStream subscribes to: S3 event notifications of the
// bucket (an uploaded source exists: start the chain) and EventBridge events
// (a MediaConvert job changed state), the latter handed to the handler
// registered for the event's source.
//
// SNS retries a delivery answered with 5xx and drops one answered with 4xx,
// so the answer says which the failure is, in one place (status): forged,
// foreign or malformed messages get 4xx and change nothing; trouble on this
// side (the database, Redis, the certificate host unreachable) gets 5xx.
package sns

import (
	"encoding/json"
	"fmt"

	"github.com/edustream/edustream"
)

// Message types, in the x-amz-sns-message-type header and the body's Type.
const (
	TypeNotification             = "Notification"
	TypeSubscriptionConfirmation = "SubscriptionConfirmation"
	TypeUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// Message is the JSON body of an SNS delivery.
type Message struct {
	Type      string
	MessageID string `json:"MessageId"`
	// Token, SubscribeURL: confirmations only.
	Token    string
	TopicArn string
	// Subject is signed only when present, so absent and empty differ.
	Subject          *string
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
	SubscribeURL     string
	UnsubscribeURL   string
}

// parseMessage decodes a delivery's body and checks that it has what its
// type needs. EINVALID.
func parseMessage(body []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, edustream.Errorf(edustream.EINVALID, "the body is not an SNS message: %v", err)
	}
	missing := func(name, v string) error {
		if v == "" {
			return edustream.Errorf(edustream.EINVALID, "the %s message has no %s", m.Type, name)
		}
		return nil
	}
	required := []struct{ name, value string }{
		{"MessageId", m.MessageID}, {"TopicArn", m.TopicArn}, {"Timestamp", m.Timestamp},
		{"SignatureVersion", m.SignatureVersion}, {"Signature", m.Signature}, {"SigningCertURL", m.SigningCertURL},
	}
	switch m.Type {
	case TypeNotification:
	case TypeSubscriptionConfirmation, TypeUnsubscribeConfirmation:
		required = append(required, struct{ name, value string }{"Token", m.Token}, struct{ name, value string }{"SubscribeURL", m.SubscribeURL})
	default:
		return nil, edustream.Errorf(edustream.EINVALID, "unknown SNS message type %q", m.Type)
	}
	for _, f := range required {
		if err := missing(f.name, f.value); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// stringToSign is what SNS signs: "Name\nValue\n" for each field of the
// message's type, in the documented order.
func (m *Message) stringToSign() ([]byte, error) {
	type field struct{ name, value string }
	var fields []field
	switch m.Type {
	case TypeNotification:
		fields = []field{{"Message", m.Message}, {"MessageId", m.MessageID}}
		if m.Subject != nil {
			fields = append(fields, field{"Subject", *m.Subject})
		}
		fields = append(fields, field{"Timestamp", m.Timestamp}, field{"TopicArn", m.TopicArn}, field{"Type", m.Type})
	case TypeSubscriptionConfirmation, TypeUnsubscribeConfirmation:
		fields = []field{
			{"Message", m.Message}, {"MessageId", m.MessageID}, {"SubscribeURL", m.SubscribeURL},
			{"Timestamp", m.Timestamp}, {"Token", m.Token}, {"TopicArn", m.TopicArn}, {"Type", m.Type},
		}
	default:
		return nil, fmt.Errorf("sns: no string to sign for type %q", m.Type)
	}
	var b []byte
	for _, f := range fields {
		b = append(b, f.name...)
		b = append(b, '\n')
		b = append(b, f.value...)
		b = append(b, '\n')
	}
	return b, nil
}
