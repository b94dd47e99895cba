package testutil

import (
	"testing"
	"time"
)

// maxPollInterval bounds the pause between two looks at a condition.
const maxPollInterval = 20 * time.Millisecond

// WaitFor polls cond until it holds, failing the test (from the calling
// goroutine, the test's) with what once timeout has passed.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !Eventually(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// Eventually polls cond until it holds (true) or timeout has passed (false),
// for a caller that must not fail the test then: it gives up, skips or
// explains the failure itself. cond is looked at once at once, then after
// 1 ms, the pause doubling up to 20 ms; the last look is at the deadline.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(pause, left))
		pause = min(2*pause, maxPollInterval)
	}
	return true
}
