package heartbeat

import (
	"errors"
	"time"
)

// ErrTimeout means a ping went unanswered for longer than the timeout.
var ErrTimeout = errors.New("heartbeat: no pong within the timeout")

// Monitor paces pings: after Interval of quiet it asks for a ping, then waits
// Timeout for the pong. C, Fire, Answered and Stop belong to the owner
// goroutine; Pong is safe from any goroutine.
type Monitor struct {
	interval time.Duration
	timeout  time.Duration
	timer    *time.Timer
	pongs    chan struct{}
	waiting  bool
}

// New returns a Monitor whose first ping is due after interval.
func New(interval, timeout time.Duration) *Monitor {
	return &Monitor{
		interval: interval,
		timeout:  timeout,
		timer:    time.NewTimer(interval),
		pongs:    make(chan struct{}, 1),
	}
}

// C delivers when the owner must call Fire.
func (m *Monitor) C() <-chan time.Time { return m.timer.C }

// Pongs delivers after Pong was called; the owner then calls Answered.
func (m *Monitor) Pongs() <-chan struct{} { return m.pongs }

// Pong records that the peer answered. It never blocks: pongs that arrive
// together count once.
func (m *Monitor) Pong() {
	select {
	case m.pongs <- struct{}{}:
	default:
	}
}

// Fire is called when C delivered. It returns nil when the owner must send a
// ping now, and ErrTimeout when the last ping went unanswered.
func (m *Monitor) Fire() error {
	if m.waiting {
		return ErrTimeout
	}
	m.waiting = true
	m.timer.Reset(m.timeout)
	return nil
}

// Answered is called when Pongs delivered: the next ping is due after a full
// interval. A pong nobody asked for changes nothing.
func (m *Monitor) Answered() {
	if !m.waiting {
		return
	}
	m.waiting = false
	m.timer.Reset(m.interval)
}

// Stop releases the timer.
func (m *Monitor) Stop() { m.timer.Stop() }
