package gqlhttp

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Metrics measures an endpoint for Prometheus: requests by operation type,
// operation name and outcome, their duration, errors by code, active
// subscriptions by field, open websockets and the response cache's
// counters. Set it in Config; nil measures nothing.
//
// Operation names come from clients, so the label is bounded: the first
// OperationNames distinct names of operations that validated get their
// own series and every later one is counted as "other"; a request refused
// before its document validated is "unknown" and an anonymous operation
// "anonymous", outside the bound. Outcomes are "ok" (data and no errors), "error" (errors
// in the response) and "rejected" (a request error: nothing ran).
type Metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	subscriptions *prometheus.GaugeVec
	websockets    prometheus.Gauge
	refusals      *prometheus.CounterVec

	names *boundedLabels[*operationSeries]
	// anonymous and unknown are outside the bound: no client can crowd
	// them out.
	anonymous, unknown *operationSeries
	codes              *boundedLabels[prometheus.Counter]
}

// MetricsConfig configures Metrics.
type MetricsConfig struct {
	// OperationNames bounds the operation names that get series of their
	// own (0: DefaultMetricsOperationNames).
	OperationNames int
	// ResponseCache, if set, has its counters exported.
	ResponseCache *ResponseCache
}

// DefaultMetricsOperationNames is MetricsConfig.OperationNames's default:
// more than the operations of the SPA, the mobile app and the playground
// together, few enough that the duration histogram stays a few thousand
// series.
const DefaultMetricsOperationNames = 100

// Label values that are not operation names. GraphQL names are
// [_A-Za-z][_0-9A-Za-z]*, so an operation may be called "other": it is
// then counted with the others, which is harmless.
const (
	labelOther     = "other"
	labelAnonymous = "anonymous"
	labelUnknown   = "unknown"
)

// Outcomes of a request.
const (
	outcomeOK       = "ok"
	outcomeError    = "error"
	outcomeRejected = "rejected"
)

// maxLabelBytes is the longest operation name or error code kept as a
// label value; longer ones are "other".
const maxLabelBytes = 100

// maxErrorCodes bounds the error codes counted apart. The schema's
// presenter knows a handful; the bound is for schemas that make up more.
const maxErrorCodes = 20

// NewMetrics returns the measures of an endpoint, registered on reg.
func NewMetrics(reg prometheus.Registerer, cfg MetricsConfig) *Metrics {
	if cfg.OperationNames <= 0 {
		cfg.OperationNames = DefaultMetricsOperationNames
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edustream_graphql_requests_total",
			Help: "GraphQL requests, by operation type, operation name (bounded; the rest are \"other\") and outcome (ok, error, rejected).",
		}, []string{"type", "operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "edustream_graphql_request_duration_seconds",
			Help:    "Time to answer a GraphQL query or mutation (subscriptions are not timed), by operation type and name.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"type", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edustream_graphql_errors_total",
			Help: "Errors in GraphQL responses, by extensions.code.",
		}, []string{"code"}),
		subscriptions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edustream_graphql_subscriptions",
			Help: "Subscriptions running in this process, by root field.",
		}, []string{"field"}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edustream_graphql_websocket_connections",
			Help: "Websocket connections open on this process.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edustream_graphql_websocket_refusals_total",
			Help: "Websockets closed and subscriptions refused by the edge, by reason: a protocol breach (bad_message, unauthorized, too_many_inits, init_timeout, duplicate_id, subprotocol), a bad token (forbidden) or a bound (socket_limit, subscription_limit).",
		}, []string{"reason"}),
	}
	m.names = newBoundedLabels(cfg.OperationNames, func(name string) *operationSeries { return &operationSeries{m: m, name: name} })
	m.anonymous, m.unknown = &operationSeries{m: m, name: labelAnonymous}, &operationSeries{m: m, name: labelUnknown}
	m.codes = newBoundedLabels(maxErrorCodes, func(code string) prometheus.Counter { return m.errors.WithLabelValues(code) })
	reg.MustRegister(m.requests, m.duration, m.errors, m.subscriptions, m.websockets, m.refusals)
	if cfg.ResponseCache != nil {
		reg.MustRegister(responseCacheCollector{cfg.ResponseCache})
	}
	return m
}

// operationSeries are the series of one operation name, resolved once per
// type: the hot path is then a map read and two atomic adds.
type operationSeries struct {
	m      *Metrics
	name   string
	byType [4]atomic.Pointer[typeSeries]
}

type typeSeries struct {
	duration prometheus.Observer
	outcomes [3]prometheus.Counter // ok, error, rejected
}

var operationTypes = [4]string{"query", "mutation", "subscription", labelUnknown}

func typeIndex(op *ast.OperationDefinition) int {
	if op == nil {
		return 3
	}
	switch op.Operation {
	case ast.Query:
		return 0
	case ast.Mutation:
		return 1
	case ast.Subscription:
		return 2
	}
	return 3
}

func (s *operationSeries) of(typ int) *typeSeries {
	if ts := s.byType[typ].Load(); ts != nil {
		return ts
	}
	t := operationTypes[typ]
	ts := &typeSeries{duration: s.m.duration.WithLabelValues(t, s.name)}
	for i, outcome := range []string{outcomeOK, outcomeError, outcomeRejected} {
		ts.outcomes[i] = s.m.requests.WithLabelValues(t, s.name, outcome)
	}
	s.byType[typ].CompareAndSwap(nil, ts)
	return s.byType[typ].Load()
}

func outcomeIndex(outcome string) int {
	switch outcome {
	case outcomeOK:
		return 0
	case outcomeError:
		return 1
	}
	return 2
}

// series returns the series of op (nil: the request never got to one).
// Only operations that parsed and validated may claim a name of their own.
func (m *Metrics) series(op *ast.OperationDefinition) *typeSeries {
	if op == nil {
		return m.unknown.of(typeIndex(op))
	}
	return m.named(typeIndex(op), op.Name)
}

// named returns the series of the operation name of type typ.
func (m *Metrics) named(typ int, name string) *typeSeries {
	if name == "" {
		return m.anonymous.of(typ)
	}
	return m.names.get(name).of(typ)
}

// record counts one request of op that ended with outcome after start
// (the zero time: not timed).
func (m *Metrics) record(op *ast.OperationDefinition, outcome string, start time.Time, errs gqlerror.List) {
	m.count(m.series(op), outcome, start, errs)
}

func (m *Metrics) count(s *typeSeries, outcome string, start time.Time, errs gqlerror.List) {
	s.outcomes[outcomeIndex(outcome)].Inc()
	if !start.IsZero() {
		s.duration.Observe(time.Since(start).Seconds())
	}
	m.countErrors(errs)
}

func (m *Metrics) countErrors(errs gqlerror.List) {
	for _, e := range errs {
		code, _ := e.Extensions["code"].(string)
		if code == "" {
			code = labelUnknown
		}
		m.codes.get(code).Inc()
	}
}

// cached counts a request answered from the response cache: a query that
// ran before under the name the entry keeps.
func (m *Metrics) cached(operation string, start time.Time) {
	if m == nil {
		return
	}
	m.count(m.named(0, operation), outcomeOK, start, nil)
}

// rejected counts a request refused before anything ran. oc is what the
// executor made of it, if it got that far; start is the zero time for a
// request refused before its parameters decoded, which is not timed: it
// is a malformed body, not a GraphQL operation.
func (m *Metrics) rejected(oc *graphql.OperationContext, start time.Time, errs gqlerror.List) {
	if m == nil {
		return
	}
	var op *ast.OperationDefinition
	if oc != nil {
		op = oc.Operation
	}
	m.record(op, outcomeRejected, start, errs)
}

// websocket counts an open websocket until the returned func is called.
func (m *Metrics) websocket() (closed func()) {
	if m == nil {
		return func() {}
	}
	m.websockets.Inc()
	return m.websockets.Dec
}

// The reasons of edustream_graphql_websocket_refusals_total: a fixed set.
const (
	refusedBadMessage        = "bad_message"
	refusedUnauthorized      = "unauthorized"
	refusedTooManyInits      = "too_many_inits"
	refusedInitTimeout       = "init_timeout"
	refusedDuplicateID       = "duplicate_id"
	refusedForbidden         = "forbidden"
	refusedSubprotocol       = "subprotocol"
	refusedSocketLimit       = "socket_limit"
	refusedSubscriptionLimit = "subscription_limit"
)

// websocketRefused counts a websocket closed, or a subscription refused,
// by the edge for reason.
func (m *Metrics) websocketRefused(reason string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(reason).Inc()
}

// countErrorsOf counts errors the edge answered outside any operation's
// response.
func (m *Metrics) countErrorsOf(errs gqlerror.List) {
	if m == nil {
		return
	}
	m.countErrors(errs)
}

// aroundOperation measures every operation the executor runs, over HTTP
// and websockets. A query or mutation is counted at its (first) response,
// with its duration since the transport started it; a subscription when
// it starts, and it is active until its stream ends.
func (m *Metrics) aroundOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	start := oc.Stats.OperationStart
	if start.IsZero() {
		start = time.Now()
	}
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		return m.aroundSubscription(ctx, oc, next)
	}
	respond := next(ctx)
	answered := false
	return func(ctx context.Context) *graphql.Response {
		resp := respond(ctx)
		if answered {
			// The websocket transport asks again until nil.
			return resp
		}
		answered = true
		outcome := outcomeOK
		var errs gqlerror.List
		if resp == nil || len(resp.Errors) > 0 {
			outcome = outcomeError
		}
		if resp != nil {
			errs = resp.Errors
		}
		m.record(oc.Operation, outcome, start, errs)
		return resp
	}
}

func (m *Metrics) aroundSubscription(ctx context.Context, oc *graphql.OperationContext, next graphql.OperationHandler) graphql.ResponseHandler {
	field := labelUnknown
	if fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Subscription"}); len(fields) > 0 {
		field = fields[0].Name // validation allows one root field
	}
	active := m.subscriptions.WithLabelValues(field)
	respond := next(ctx)
	active.Inc()
	first, ended := true, false
	end := func() {
		if !ended {
			ended = true
			active.Dec()
		}
	}
	return func(ctx context.Context) (resp *graphql.Response) {
		defer func() {
			if v := recover(); v != nil {
				end()
				panic(v)
			}
		}()
		resp = respond(ctx)
		if first {
			first = false
			outcome := outcomeOK
			if (resp != nil && len(resp.Errors) > 0) || (resp == nil && len(graphql.GetErrors(ctx)) > 0) {
				outcome = outcomeError
			}
			m.record(oc.Operation, outcome, time.Time{}, nil)
		}
		if resp == nil {
			end()
			return nil
		}
		m.countErrors(resp.Errors)
		return resp
	}
}

// boundedLabels hands out one value per label, for at most max distinct
// labels; every label after those, and every label longer than
// maxLabelBytes, gets the value of "other". Labels are added a few times
// in a process's life and read on every request: reads load an immutable
// map (no lock, and no allocation, which a sync.Map's any key would cost),
// and an addition copies it.
type boundedLabels[V any] struct {
	max   int
	make  func(label string) V
	known atomic.Pointer[map[string]V]
	mu    sync.Mutex // serializes additions
	other V
}

func newBoundedLabels[V any](max int, make func(string) V) *boundedLabels[V] {
	b := &boundedLabels[V]{max: max, make: make, other: make(labelOther)}
	b.known.Store(&map[string]V{})
	return b
}

func (b *boundedLabels[V]) get(label string) V {
	if v, ok := (*b.known.Load())[label]; ok {
		return v
	}
	if len(label) > maxLabelBytes {
		return b.other
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	known := *b.known.Load()
	if v, ok := known[label]; ok {
		return v
	}
	if len(known) >= b.max {
		return b.other
	}
	v := b.make(label)
	grown := maps.Clone(known)
	grown[label] = v
	b.known.Store(&grown)
	return v
}

// responseCacheCollector exports a ResponseCache's own counters at each
// scrape: the cache keeps them anyway, so requests pay nothing more.
type responseCacheCollector struct{ c *ResponseCache }

var (
	cacheHitsDesc = prometheus.NewDesc("edustream_graphql_response_cache_hits_total",
		"Shared reads answered from the response cache.", nil, nil)
	cacheMissesDesc = prometheus.NewDesc("edustream_graphql_response_cache_misses_total",
		"Shared reads the response cache did not hold (or held expired).", nil, nil)
	cacheEvictionsDesc = prometheus.NewDesc("edustream_graphql_response_cache_evictions_total",
		"Responses dropped to keep the cache within its size.", nil, nil)
	cachePurgesDesc = prometheus.NewDesc("edustream_graphql_response_cache_purges_total",
		"Times the whole cache was dropped because content changed.", nil, nil)
	cacheEntriesDesc = prometheus.NewDesc("edustream_graphql_response_cache_entries",
		"Responses held in the cache.", nil, nil)
	cacheBytesDesc = prometheus.NewDesc("edustream_graphql_response_cache_bytes",
		"Bytes the cache holds, keys and bookkeeping included.", nil, nil)
)

func (c responseCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheHitsDesc, cacheMissesDesc, cacheEvictionsDesc, cachePurgesDesc, cacheEntriesDesc, cacheBytesDesc} {
		ch <- d
	}
}

func (c responseCacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.c.Stats()
	ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(cacheEvictionsDesc, prometheus.CounterValue, float64(s.Evictions))
	ch <- prometheus.MustNewConstMetric(cachePurgesDesc, prometheus.CounterValue, float64(s.Purges))
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(s.Bytes))
}
