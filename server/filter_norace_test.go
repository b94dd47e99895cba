//go:build !race

package server

// raceEnabled: see filter_race_test.go.
const raceEnabled = false
