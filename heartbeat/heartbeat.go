package heartbeat

import (
	"errors"
	"time"
)

// ErrTimeout means a ping went unanswered for longer than the timeout.
var ErrTimeout = errors.New("heartbeat: no pong within the timeout")

// Monitor paces pings: after Interval of quiet it asks for a ping, then waits
// Timeout for the pong. Due, Pongs, Fire, Answered and Stop belong to the
// owner; Pong is safe from any goroutine.
type Monitor struct {
	interval time.Duration
	timeout  time.Duration
	timer    *time.Timer
	pongs    chan struct{}
	waiting  bool
	due      time.Time // when Fire is due next
	wake     func()    // called when the owner may have something to do
}

// New returns a Monitor whose first ping is due after interval. It has no
// goroutine waiting on it: wake is called (from a goroutine of the timer's,
// or from Pong's caller) whenever the owner may have something to do; the
// owner then drains Pongs and calls Fire if Due says so. A wake may come
// early or twice; Due decides.
func New(interval, timeout time.Duration, wake func()) *Monitor {
	m := &Monitor{
		interval: interval,
		timeout:  timeout,
		pongs:    make(chan struct{}, 1),
		due:      time.Now().Add(interval),
		wake:     wake,
	}
	m.timer = time.AfterFunc(interval, wake)
	return m
}

// Due reports whether Fire must be called now.
func (m *Monitor) Due() bool { return !time.Now().Before(m.due) }

// Pongs delivers after Pong was called; the owner then calls Answered.
func (m *Monitor) Pongs() <-chan struct{} { return m.pongs }

// Pong records that the peer answered. It never blocks: pongs that arrive
// together count once.
func (m *Monitor) Pong() {
	select {
	case m.pongs <- struct{}{}:
	default:
	}
	m.wake()
}

// reset makes Fire due after d.
func (m *Monitor) reset(d time.Duration) {
	m.due = time.Now().Add(d)
	m.timer.Reset(d)
}

// Fire is called when Due. It returns nil when the owner must send a
// ping now, and ErrTimeout when the last ping went unanswered.
func (m *Monitor) Fire() error {
	if m.waiting {
		return ErrTimeout
	}
	m.waiting = true
	m.reset(m.timeout)
	return nil
}

// Answered is called when Pongs delivered: the next ping is due after a full
// interval. A pong nobody asked for changes nothing.
func (m *Monitor) Answered() {
	if !m.waiting {
		return
	}
	m.waiting = false
	m.reset(m.interval)
}

// Stop releases the timer.
func (m *Monitor) Stop() { m.timer.Stop() }
