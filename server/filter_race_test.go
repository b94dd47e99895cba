//go:build race

package server

// raceEnabled: the race detector makes sync.Pool drop what is put in it, so
// allocation counts (regexp's pooled machines) mean nothing.
const raceEnabled = true
