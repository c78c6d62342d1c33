package server

import "net/http"

// Ops returns the handler of a process's operations listener
// (EDUSTREAM_METRICS_ADDR), which is never the public API's: metrics at
// /metrics, and /healthz and /readyz with checks, as the API answers them,
// so that a worker, which has no API port, can be probed and replaced by
// its autoscaling group. Everything else is 404.
func Ops(metrics http.Handler, checks []Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(checks))
	return mux
}
