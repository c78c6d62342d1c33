package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outbound measures the HTTP calls EduStream makes to the services it
// depends on (Webex, SNS, MediaConvert): every attempt by status code (429
// is Webex's and AWS's way to say slow down), its duration, and the
// attempts that were retries of a call.
type Outbound struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	retries  *prometheus.CounterVec
}

// NewOutbound returns the outbound measures, registered on reg.
func NewOutbound(reg prometheus.Registerer) *Outbound {
	o := &Outbound{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edustream_http_client_requests_total",
			Help: "HTTP requests made to a dependency, every attempt counted, by service and status code (error: no response).",
		}, []string{"service", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "edustream_http_client_request_duration_seconds",
			Help:    "Time to the response headers of an HTTP request to a dependency, by service.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"service"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edustream_http_client_retries_total",
			Help: "HTTP requests to a dependency that repeated an earlier attempt of the same call, by service.",
		}, []string{"service"}),
	}
	reg.MustRegister(o.requests, o.duration, o.retries)
	return o
}

// Transport returns next (http.DefaultTransport when nil) measured as
// calls to service. attempt, if set, says which try of its call a request
// is (1 the first, 0 when unknown); requests past the first count as
// retries. Use AWSAttempt for AWS SDK clients.
func (o *Outbound) Transport(service string, next http.RoundTripper, attempt func(*http.Request) int) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	// The series of the service exist before its first call.
	o.retries.WithLabelValues(service)
	return &measuredTransport{
		next:     next,
		service:  service,
		attempt:  attempt,
		duration: o.duration.WithLabelValues(service),
		retries:  o.retries.WithLabelValues(service),
		requests: o.requests,
	}
}

// Client returns a copy of c (a plain client when nil) whose transport is
// measured as calls to service. c itself is not changed: it may be shared.
func (o *Outbound) Client(service string, c *http.Client, attempt func(*http.Request) int) *http.Client {
	var measured http.Client
	if c != nil {
		measured = *c
	}
	measured.Transport = o.Transport(service, measured.Transport, attempt)
	return &measured
}

type measuredTransport struct {
	next     http.RoundTripper
	service  string
	attempt  func(*http.Request) int
	duration prometheus.Observer
	retries  prometheus.Counter
	requests *prometheus.CounterVec
}

func (t *measuredTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.attempt != nil && t.attempt(r) > 1 {
		t.retries.Inc()
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	t.duration.Observe(time.Since(start).Seconds())
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.requests.WithLabelValues(t.service, code).Inc()
	return resp, err
}

// AWSAttempt reads which try of its call an AWS SDK request is, from the
// amz-sdk-request header the SDK's retry middleware sets on every attempt
// ("attempt=2; max=3"); 0 when there is none.
func AWSAttempt(r *http.Request) int {
	for part := range strings.SplitSeq(r.Header.Get("amz-sdk-request"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "attempt="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
