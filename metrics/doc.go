// Package metrics counts what logtaild does, in a Prometheus registry of its
// own (not the global one, so that several daemons can live in one test
// process), and serves it in the Prometheus text format.
//
// It is the only package that imports github.com/prometheus/client_golang.
// Entry points: New, then the counting methods on the hot path (each one
// atomic add), and Handler for /metrics.
package metrics
