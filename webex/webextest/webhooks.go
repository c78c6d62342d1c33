package webextest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

type webhook struct {
	id, name, targetURL, resource, event, filter, secret, status, ownedBy string
	created                                                               time.Time
}

// webhookEvents lists the events each resource the fake knows delivers.
var webhookEvents = map[string][]string{
	"meetings":   {"created", "updated", "deleted", "started", "ended"},
	"recordings": {"created"},
}

type webhookJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	TargetURL string `json:"targetUrl"`
	Resource  string `json:"resource"`
	Event     string `json:"event"`
	Filter    string `json:"filter,omitempty"`
	Secret    string `json:"secret,omitempty"`
	Status    string `json:"status"`
	Created   string `json:"created"`
	OrgID     string `json:"orgId"`
	CreatedBy string `json:"createdBy"`
	AppID     string `json:"appId"`
	OwnedBy   string `json:"ownedBy"`
}

func (s *Server) webhookJSON(h *webhook) webhookJSON {
	return webhookJSON{
		ID: h.id, Name: h.name, TargetURL: h.targetURL, Resource: h.resource, Event: h.event,
		Filter: h.filter, Secret: h.secret, Status: h.status, Created: stamp(h.created),
		OrgID: s.org, CreatedBy: s.host, AppID: s.app, OwnedBy: h.ownedBy,
	}
}

type webhookInput struct {
	Name      *string `json:"name"`
	TargetURL *string `json:"targetUrl"`
	Resource  string  `json:"resource"`
	Event     string  `json:"event"`
	Filter    string  `json:"filter"`
	Secret    *string `json:"secret"`
	OwnedBy   string  `json:"ownedBy"`
	Status    string  `json:"status"`
}

func (s *Server) readWebhook(w http.ResponseWriter, r *http.Request) (*webhookInput, []string, bool) {
	var in webhookInput
	body, _ := readAll(r)
	if err := json.Unmarshal(body, &in); err != nil {
		s.invalid(w, []string{"The request body is not valid JSON: " + err.Error()})
		return nil, nil, false
	}
	var problems []string
	if in.Name == nil || *in.Name == "" {
		problems = append(problems, "name: is required.")
	}
	if in.TargetURL == nil {
		problems = append(problems, "targetUrl: is required.")
	} else if u, err := url.Parse(*in.TargetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("targetUrl: %q is not a valid URL.", *in.TargetURL))
	}
	return &in, problems, true
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	in, problems, ok := s.readWebhook(w, r)
	if !ok {
		return
	}
	events, known := webhookEvents[in.Resource]
	switch {
	case in.Resource == "":
		problems = append(problems, "resource: is required.")
	case !known:
		problems = append(problems, fmt.Sprintf("resource: %q is not supported.", in.Resource))
	case !slices.Contains(events, in.Event):
		problems = append(problems, fmt.Sprintf("event: %q is not valid for resource %q.", in.Event, in.Resource))
	}
	if in.OwnedBy != "" && in.OwnedBy != "org" && in.OwnedBy != "creator" {
		problems = append(problems, fmt.Sprintf("ownedBy: %q is not valid.", in.OwnedBy))
	}
	if len(problems) > 0 {
		s.invalid(w, problems)
		return
	}
	h := &webhook{
		id: sparkID("WEBHOOK", uuid()), name: *in.Name, targetURL: *in.TargetURL,
		resource: in.Resource, event: in.Event, filter: in.Filter, status: "active", ownedBy: "creator",
	}
	if in.Secret != nil {
		h.secret = *in.Secret
	}
	if in.OwnedBy != "" {
		h.ownedBy = in.OwnedBy
	}
	s.mu.Lock()
	h.created = s.now()
	s.webhooks = append(s.webhooks, h)
	j := s.webhookJSON(h)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, j)
}

func (s *Server) findWebhook(id string) *webhook {
	for _, h := range s.webhooks {
		if h.id == id {
			return h
		}
	}
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	max, ok := pageSize(r.URL.Query(), 100)
	if !ok {
		s.invalid(w, []string{"max: must be between 1 and 100."})
		return
	}
	s.mu.Lock()
	items := make([]any, len(s.webhooks))
	for i, h := range s.webhooks {
		items[i] = s.webhookJSON(h)
	}
	s.mu.Unlock()
	s.page(w, r, items, max)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.findWebhook(r.PathValue("id"))
	var j webhookJSON
	if h != nil {
		j = s.webhookJSON(h)
	}
	s.mu.Unlock()
	if h == nil {
		s.notFound(w, "Webhook")
		return
	}
	s.writeJSON(w, http.StatusOK, j)
}

// putWebhook changes name, target URL, secret and status; other fields
// are ignored, and a webhook cannot be deactivated this way.
func (s *Server) putWebhook(w http.ResponseWriter, r *http.Request) {
	in, problems, ok := s.readWebhook(w, r)
	if !ok {
		return
	}
	if in.Status != "" && in.Status != "active" {
		problems = append(problems, "status: only \"active\" can be set, to reactivate a webhook.")
	}
	if len(problems) > 0 {
		s.invalid(w, problems)
		return
	}
	s.mu.Lock()
	h := s.findWebhook(r.PathValue("id"))
	if h == nil {
		s.mu.Unlock()
		s.notFound(w, "Webhook")
		return
	}
	h.name, h.targetURL = *in.Name, *in.TargetURL
	if in.Secret != nil {
		h.secret = *in.Secret
	}
	if in.Status != "" {
		h.status = in.Status
	}
	j := s.webhookJSON(h)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, j)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := slices.IndexFunc(s.webhooks, func(h *webhook) bool { return h.id == r.PathValue("id") })
	if i >= 0 {
		s.webhooks = slices.Delete(s.webhooks, i, i+1)
	}
	s.mu.Unlock()
	if i < 0 {
		s.notFound(w, "Webhook")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Webhook is a registered webhook, for assertions.
type Webhook struct {
	ID, Name, TargetURL, Resource, Event, Filter, Secret, Status string
}

// Webhooks returns the registered webhooks.
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, len(s.webhooks))
	for i, h := range s.webhooks {
		out[i] = Webhook{h.id, h.name, h.targetURL, h.resource, h.event, h.filter, h.secret, h.status}
	}
	return out
}

// DeactivateWebhook turns a webhook off, as Webex does after its
// deliveries keep failing.
func (s *Server) DeactivateWebhook(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.findWebhook(id)
	if h == nil {
		return fmt.Errorf("webextest: no webhook %q", id)
	}
	h.status = "inactive"
	return nil
}

// Delivery is one webhook delivery the fake made.
type Delivery struct {
	WebhookID, Resource, Event, TargetURL string
	// Body is exactly what was sent; Signature its X-Spark-Signature (""
	// for a webhook without a secret).
	Body      []byte
	Signature string
	// StatusCode is the target's answer, 0 if it could not be reached (Err).
	StatusCode int
	Err        error
}

// Deliveries returns the deliveries made so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// Redeliver sends delivery i again, byte for byte, as Webex sometimes
// does.
func (s *Server) Redeliver(i int) error {
	s.mu.Lock()
	if i < 0 || i >= len(s.deliveries) {
		s.mu.Unlock()
		return fmt.Errorf("webextest: no delivery %d", i)
	}
	d := s.deliveries[i]
	s.mu.Unlock()
	d = s.post(d)
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	return d.Err
}

// envelope is what Webex POSTs to a target URL.
type envelope struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	TargetURL string `json:"targetUrl"`
	Resource  string `json:"resource"`
	Event     string `json:"event"`
	Filter    string `json:"filter,omitempty"`
	OrgID     string `json:"orgId"`
	CreatedBy string `json:"createdBy"`
	AppID     string `json:"appId"`
	OwnedBy   string `json:"ownedBy"`
	Status    string `json:"status"`
	Created   string `json:"created"`
	ActorID   string `json:"actorId"`
	Data      any    `json:"data"`
}

// deliver posts data to every active webhook of resource and event,
// signed with its secret. It runs without s.mu held: the target may call
// the fake back while it handles the delivery.
func (s *Server) deliver(resource, event string, data any) {
	s.mu.Lock()
	var out []Delivery
	for _, h := range s.webhooks {
		if h.resource != resource || h.event != event || h.status != "active" {
			continue
		}
		body, err := json.Marshal(envelope{
			ID: h.id, Name: h.name, TargetURL: h.targetURL, Resource: resource, Event: event, Filter: h.filter,
			OrgID: s.org, CreatedBy: s.host, AppID: s.app, OwnedBy: h.ownedBy, Status: h.status,
			Created: stamp(h.created), ActorID: s.host, Data: data,
		})
		if err != nil {
			panic(err) // the fake's own types always marshal
		}
		d := Delivery{WebhookID: h.id, Resource: resource, Event: event, TargetURL: h.targetURL, Body: body}
		if h.secret != "" {
			mac := hmac.New(sha1.New, []byte(h.secret))
			mac.Write(body)
			d.Signature = hex.EncodeToString(mac.Sum(nil))
		}
		out = append(out, d)
	}
	s.mu.Unlock()
	for _, d := range out {
		d = s.post(d)
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
	}
}

func (s *Server) post(d Delivery) Delivery {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TargetURL, bytes.NewReader(d.Body))
	if err != nil {
		d.StatusCode, d.Err = 0, err
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "webextest")
	if d.Signature != "" {
		req.Header.Set("X-Spark-Signature", d.Signature)
	}
	resp, err := s.cfg.DeliveryClient.Do(req)
	if err != nil {
		d.StatusCode, d.Err = 0, err
		return d
	}
	resp.Body.Close()
	d.StatusCode, d.Err = resp.StatusCode, nil
	return d
}
