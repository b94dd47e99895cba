package main

import (
	"fmt"
	"time"
)

// retryNoteEvery is how often a stream that keeps failing with -F says so.
const retryNoteEvery = time.Minute

// retryNotes tells of one stream's reconnections without flooding stderr:
// the first failure after a connection at once, then at most one note a
// minute while it keeps failing, saying how many retries went unsaid, and a
// note when it is connected again. Its methods are called from the
// stream's goroutine only (client.Stream's OnRetry and OnReconnect).
type retryNotes struct {
	note func(format string, args ...any)
	now  func() time.Time // time.Now, or a test's clock

	failing bool
	since   time.Time // the first failure
	last    time.Time // the last note
	retries int       // since the first failure
	unsaid  int       // failures since the last note
}

// failed is a failure that will be retried after wait.
func (r *retryNotes) failed(what string, wait time.Duration) {
	now := r.now()
	r.retries++
	switch {
	case !r.failing:
		r.failing, r.since, r.last, r.retries, r.unsaid = true, now, now, 1, 0
		r.note("%s; retrying in %s", what, wait)
	case now.Sub(r.last) >= retryNoteEvery:
		r.note("%s; still failing after %s, retrying every %s (%s not shown)", what,
			now.Sub(r.since).Round(time.Second), wait, retries(r.unsaid, "failed retry", "failed retries"))
		r.last, r.unsaid = now, 0
	default:
		r.unsaid++
	}
}

// connected is a connection after failures.
func (r *retryNotes) connected() {
	if !r.failing {
		r.note("connected")
		return
	}
	r.note("connected (after %s in %s)", retries(r.retries, "retry", "retries"), r.now().Sub(r.since).Round(time.Millisecond))
	r.failing = false
}

// retries is n with its noun.
func retries(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
