package webex

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Webhook resources and events EduStream uses.
const (
	ResourceMeetings   = "meetings"
	ResourceRecordings = "recordings"

	EventCreated = "created"
	EventUpdated = "updated"
	EventDeleted = "deleted"
	EventStarted = "started"
	EventEnded   = "ended"
)

// Webhook statuses; Webex deactivates a webhook whose deliveries keep
// failing.
const (
	WebhookActive   = "active"
	WebhookInactive = "inactive"
)

// Webhook is a registration for deliveries of one resource's event.
type Webhook struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	TargetURL string    `json:"targetUrl"`
	Resource  string    `json:"resource"`
	Event     string    `json:"event"`
	Filter    string    `json:"filter,omitempty"`
	Secret    string    `json:"secret,omitempty"`
	Status    string    `json:"status,omitempty"`
	OrgID     string    `json:"orgId,omitempty"`
	CreatedBy string    `json:"createdBy,omitempty"`
	AppID     string    `json:"appId,omitempty"`
	OwnedBy   string    `json:"ownedBy,omitempty"`
	Created   time.Time `json:"created"`
}

// NewWebhook is the body of POST /webhooks.
type NewWebhook struct {
	Name      string `json:"name"`
	TargetURL string `json:"targetUrl"`
	Resource  string `json:"resource"`
	Event     string `json:"event"`
	Filter    string `json:"filter,omitempty"`
	// Secret makes Webex sign deliveries (X-Spark-Signature).
	Secret string `json:"secret,omitempty"`
	// OwnedBy "org" registers an organization-wide webhook (admin scopes).
	OwnedBy string `json:"ownedBy,omitempty"`
}

// WebhookUpdate is the body of PUT /webhooks/{id}: Webex changes the name,
// target URL, secret and status, and requires the first two.
type WebhookUpdate struct {
	Name      string `json:"name"`
	TargetURL string `json:"targetUrl"`
	Secret    string `json:"secret,omitempty"`
	// Status can only be WebhookActive, to reactivate a webhook Webex
	// turned off.
	Status string `json:"status,omitempty"`
}

// CreateWebhook registers a webhook. Like CreateMeeting it is not retried
// after a lost answer; EnsureWebhooks cleans up the duplicates that can
// leave.
func (c *Client) CreateWebhook(ctx context.Context, w NewWebhook) (*Webhook, error) {
	var out Webhook
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/webhooks", body: w, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWebhooks returns every webhook of the integration.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	return list[Webhook](ctx, c, "/webhooks", url.Values{"max": {"100"}})
}

// UpdateWebhook changes a webhook and returns it.
func (c *Client) UpdateWebhook(ctx context.Context, id string, u WebhookUpdate) (*Webhook, error) {
	if err := checkID("webhook", id); err != nil {
		return nil, err
	}
	var out Webhook
	_, err := c.do(ctx, request{method: http.MethodPut, path: "/webhooks/" + url.PathEscape(id), body: u, idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWebhook removes a webhook; a webhook already gone after a lost
// answer counts as deleted.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	if err := checkID("webhook", id); err != nil {
		return err
	}
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/webhooks/" + url.PathEscape(id), idempotent: true, goneOK: true})
	return err
}

// Subscription is one resource and event EnsureWebhooks registers.
type Subscription struct {
	Resource string
	Event    string
	// Name is the webhook's name in Webex.
	Name string
}

// DefaultSubscriptions are the deliveries live sessions need: a meeting
// started or ended, and a recording created.
var DefaultSubscriptions = []Subscription{
	{ResourceMeetings, EventStarted, "EduStream: meeting started"},
	{ResourceMeetings, EventEnded, "EduStream: meeting ended"},
	{ResourceRecordings, EventCreated, "EduStream: recording created"},
}

// EnsureWebhooks makes Webex deliver each of subs (DefaultSubscriptions
// when none are given) to targetURL signed with secret, and returns those
// webhooks. It is safe to run at every start-up and on several instances:
// a webhook is matched on resource, event and target URL, created only when
// missing, reactivated when Webex turned it off, given the secret when it
// has another, and duplicates (from a create whose answer was lost) are
// deleted.
func (c *Client) EnsureWebhooks(ctx context.Context, targetURL, secret string, subs ...Subscription) ([]Webhook, error) {
	if len(subs) == 0 {
		subs = DefaultSubscriptions
	}
	if u, err := url.Parse(targetURL); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("webex: webhook target %q is not an absolute URL", targetURL)
	}
	if secret == "" {
		return nil, fmt.Errorf("webex: refusing to register webhooks without a secret: deliveries could not be verified")
	}
	existing, err := c.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	var out []Webhook
	for _, s := range subs {
		var found []Webhook
		for _, w := range existing {
			if w.Resource == s.Resource && w.Event == s.Event && w.TargetURL == targetURL && w.Filter == "" {
				found = append(found, w)
			}
		}
		if len(found) == 0 {
			w, err := c.CreateWebhook(ctx, NewWebhook{Name: s.Name, TargetURL: targetURL, Resource: s.Resource, Event: s.Event, Secret: secret})
			if err != nil {
				return nil, fmt.Errorf("webex: ensure %s/%s webhook: %w", s.Resource, s.Event, err)
			}
			out = append(out, *w)
			continue
		}
		keep := found[0]
		for _, dup := range found[1:] {
			if err := c.DeleteWebhook(ctx, dup.ID); err != nil {
				return nil, fmt.Errorf("webex: delete duplicate %s/%s webhook: %w", s.Resource, s.Event, err)
			}
		}
		// Webex returns the secret it signs with; an empty one (never set,
		// or hidden) is replaced too, since unsigned deliveries are refused.
		if keep.Status == WebhookInactive || keep.Secret != secret {
			w, err := c.UpdateWebhook(ctx, keep.ID, WebhookUpdate{Name: keep.Name, TargetURL: targetURL, Secret: secret, Status: WebhookActive})
			if err != nil {
				return nil, fmt.Errorf("webex: update %s/%s webhook: %w", s.Resource, s.Event, err)
			}
			keep = *w
		}
		out = append(out, keep)
	}
	return out, nil
}
