package heartbeat_test

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/logtail/logtail/heartbeat"
)

// fire is the owner's part when a ping is due: Fire, then a ping that the
// peer answers after delay while it still answers. It reports whether the
// peer was declared dead.
func fire(t *testing.T, m *heartbeat.Monitor, peer *sync.WaitGroup, pings *int, answers int, delay time.Duration) bool {
	t.Helper()
	if err := m.Fire(); err != nil {
		if !errors.Is(err, heartbeat.ErrTimeout) {
			t.Fatalf("Fire: %v", err)
		}
		return true
	}
	*pings++
	if *pings <= answers {
		peer.Go(func() {
			time.Sleep(delay) // the peer's round trip, in the bubble's fake time
			m.Pong()
		})
	}
	return false
}

// run plays the connection's writer against a peer that answers the first
// answers pings (after delay) and then goes silent: each wake is a run of the
// owner, which drains the pongs and fires when due. It returns how long after
// the start the connection was declared dead, and the pings sent.
func run(t *testing.T, interval, timeout, delay time.Duration, answers int) (time.Duration, int) {
	t.Helper()
	wakes := make(chan struct{}, 1)
	m := heartbeat.New(interval, timeout, func() {
		select {
		case wakes <- struct{}{}:
		default:
		}
	})
	defer m.Stop()
	start := time.Now()
	pings := 0
	var peer sync.WaitGroup
	defer peer.Wait()
	for range wakes {
		select {
		case <-m.Pongs():
			m.Answered()
		default:
		}
		if !m.Due() {
			continue
		}
		if fire(t, m, &peer, &pings, answers, delay) {
			return time.Since(start), pings
		}
	}
	return 0, pings
}

func TestMonitor(t *testing.T) {
	const interval, timeout = 30 * time.Second, 10 * time.Second
	tests := []struct {
		name      string
		delay     time.Duration
		answers   int
		wantDead  time.Duration
		wantPings int
	}{
		{"silent peer is dead after interval+timeout", 0, 0, interval + timeout, 1},
		{"peer answering 3 pings promptly lives until it stops", time.Second, 3, 3*(interval+time.Second) + interval + timeout, 4},
		{"late pong does not save the peer", timeout + time.Second, 1, interval + timeout, 1},
		{"pong just in time keeps it", timeout - time.Millisecond, 1, 2*interval + (timeout - time.Millisecond) + timeout, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dead, pings := run(t, interval, timeout, tt.delay, tt.answers)
				if dead != tt.wantDead {
					t.Errorf("declared dead after %v, want %v", dead, tt.wantDead)
				}
				if pings != tt.wantPings {
					t.Errorf("sent %d pings, want %d", pings, tt.wantPings)
				}
			})
		})
	}
}

func TestUnsolicitedPongChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wakes := make(chan struct{}, 1)
		m := heartbeat.New(time.Second, time.Second, func() {
			select {
			case wakes <- struct{}{}:
			default:
			}
		})
		defer m.Stop()
		start := time.Now()
		m.Pong()
		<-m.Pongs()
		m.Answered()
		for range wakes {
			if m.Due() {
				break
			}
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("first ping due after %v, want 1s", got)
		}
	})
}
