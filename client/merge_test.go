package client_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wire"
)

// base is the daemons' clock at the start of each schedule.
var base = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// msg is a message of lines read at base+at.
func msg(at time.Duration, lines ...string) *wire.Message {
	return &wire.Message{Lines: lines, Time: base.Add(at).Format(time.RFC3339Nano)}
}

// merged runs a Merge in a synctest bubble: each arrival is added at its
// moment (fake time), then the windows run out; it returns the lines in
// the order emitted.
type arrival struct {
	at     time.Duration // when it arrives, from the bubble's start
	stream string
	m      *wire.Message
}

func merged(t *testing.T, g *client.Merge[string], arrivals []arrival) []string {
	t.Helper()
	var got []string
	emit := g.Emit
	g.Emit = func(s string, m *wire.Message) error {
		got = append(got, m.Lines...)
		if emit != nil {
			return emit(s, m)
		}
		return nil
	}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		start := time.Now()
		slices.SortStableFunc(arrivals, func(a, b arrival) int { return int(a.at - b.at) })
		for _, a := range arrivals {
			time.Sleep(time.Until(start.Add(a.at))) // the schedule's own clock, not a wait for a condition
			if err := g.Add(a.stream, a.m); err != nil {
				t.Fatalf("Add: %v", err)
			}
		}
		time.Sleep(time.Minute) // every window is up
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if err := g.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	})
	return got
}

func TestMergeOrdersByTimeWithinTheWindow(t *testing.T) {
	// a read at 0 ms arrives last (a slow path), within the window
	got := merged(t, &client.Merge[string]{Window: time.Second}, []arrival{
		{at: 0, stream: "b", m: msg(10*time.Millisecond, "b1")},
		{at: 5 * time.Millisecond, stream: "c", m: msg(20*time.Millisecond, "c1", "c2")},
		{at: 300 * time.Millisecond, stream: "a", m: msg(0, "a1")},
		{at: 310 * time.Millisecond, stream: "a", m: msg(30*time.Millisecond, "a2")},
	})
	if want := []string{"a1", "b1", "c1", "c2", "a2"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMergeHoldsNoLongerThanTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emitted := make(chan string, 10)
		g := &client.Merge[string]{Window: time.Second, Emit: func(_ string, m *wire.Message) error {
			emitted <- m.Lines[0]
			return nil
		}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go g.Run(ctx)
		start := time.Now()
		g.Add("a", msg(0, "a1"))
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if len(emitted) != 0 {
			t.Fatalf("emitted before its window was up")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		select {
		case l := <-emitted:
			if since := time.Since(start); l != "a1" || since != time.Second {
				t.Errorf("emitted %q after %s, want a1 after 1s", l, since)
			}
		default:
			t.Fatal("not emitted when its window was up")
		}
		// a message later in time than one whose window is up goes out then
		// too only if earlier: the later one waits its own turn
		g.Add("b", msg(50*time.Millisecond, "b1"))
		time.Sleep(100 * time.Millisecond)
		g.Add("a", msg(10*time.Millisecond, "a2"))
		time.Sleep(900 * time.Millisecond) // b1's window is up; a2 is earlier: both go, in time order
		synctest.Wait()
		if got := []string{<-emitted, <-emitted}; !slices.Equal(got, []string{"a2", "b1"}) {
			t.Errorf("got %q, want [a2 b1]", got)
		}
		cancel()
	})
}

func TestMergeKeepsEachStreamsOrder(t *testing.T) {
	got := merged(t, &client.Merge[string]{Window: time.Second}, []arrival{
		{at: 0, stream: "a", m: msg(100*time.Millisecond, "a1")},
		{at: 1 * time.Millisecond, stream: "a", m: msg(0, "a2")}, // its clock was set back
		{at: 2 * time.Millisecond, stream: "a", m: &wire.Message{Event: wire.EventRotated, Lines: []string{"a-rotated"}}},
		{at: 3 * time.Millisecond, stream: "b", m: msg(50*time.Millisecond, "b1")},
		{at: 4 * time.Millisecond, stream: "a", m: msg(100*time.Millisecond, "a3")},
	})
	if want := []string{"b1", "a1", "a2", "a-rotated", "a3"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMergeWithoutTimesIsArrivalOrder(t *testing.T) {
	got := merged(t, &client.Merge[string]{Window: time.Second}, []arrival{
		{at: 0, stream: "old", m: &wire.Message{Lines: []string{"o1"}}},
		{at: 1 * time.Millisecond, stream: "new", m: msg(0, "n1")},
		{at: 2 * time.Millisecond, stream: "old", m: &wire.Message{Lines: []string{"o2"}}},
	})
	// the old daemon's lines are not held: they come as they arrive
	if want := []string{"o1", "o2", "n1"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMergeBoundFlushesEarlyNeverDrops(t *testing.T) {
	full := 0
	g := &client.Merge[string]{Window: time.Second, MaxBytes: 4 << 10, OnFull: func() { full++ }}
	var arrivals []arrival
	var want []string
	for i := range 200 {
		line := fmt.Sprintf("line %03d %s", i, string(make([]byte, 100)))
		want = append(want, line)
		arrivals = append(arrivals, arrival{at: time.Duration(i) * time.Microsecond, stream: "s" + fmt.Sprint(i%3),
			m: msg(time.Duration(i)*time.Millisecond, line)})
	}
	got := merged(t, g, arrivals)
	if full == 0 {
		t.Error("OnFull was not called with 200 lines of 100 bytes held under a 4 KiB bound")
	}
	if !slices.Equal(got, want) { // here early is still in order: the earliest go first
		t.Errorf("got %d lines, want the %d in order", len(got), len(want))
	}
}

func TestMergeEmitErrorEndsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		broken := errors.New("stdout closed")
		g := &client.Merge[string]{Window: time.Second, Emit: func(string, *wire.Message) error { return broken }}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		if err := g.Add("a", msg(0, "a1")); err != nil {
			t.Fatalf("Add before the window: %v", err)
		}
		time.Sleep(time.Second)
		if err := <-done; !errors.Is(err, broken) {
			t.Fatalf("Run: %v, want Emit's error", err)
		}
		if err := g.Add("a", msg(1, "a2")); !errors.Is(err, broken) {
			t.Errorf("Add after: %v, want Emit's error", err)
		}
		if err := g.Flush(); !errors.Is(err, broken) {
			t.Errorf("Flush after: %v, want Emit's error", err)
		}
	})
}

// TestMergeSchedules checks the Merge's promise on seeded random
// schedules: every message once, each stream's in its order, and, when the
// streams' delays differ by less than the window, every line in the order
// of its time.
func TestMergeSchedules(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 17))
		window := time.Duration(1+rng.IntN(1000)) * time.Millisecond
		streams := 1 + rng.IntN(6)
		within := rng.IntN(2) == 0 // delays that differ by less than the window
		spread := window - 1
		if !within {
			spread = 3 * window
		}
		delays := make([]time.Duration, streams)
		for i := range delays {
			delays[i] = time.Duration(rng.Int64N(int64(spread)))
		}
		var arrivals []arrival
		var want []string
		byStream := map[string][]string{}
		at := time.Duration(0)
		for i := range 50 + rng.IntN(200) {
			at += time.Duration(rng.IntN(5)) * time.Millisecond // equal times too
			s := rng.IntN(streams)
			line := fmt.Sprintf("%d", i)
			want = append(want, line)
			name := fmt.Sprint("s", s)
			byStream[name] = append(byStream[name], line)
			// the jitter of one daemon's path stays below a millisecond, and
			// a stream's messages arrive in their order
			arrivals = append(arrivals, arrival{at: at + delays[s], stream: name, m: msg(at, line)})
		}
		g := &client.Merge[string]{Window: window}
		streamOf := map[string]string{}
		for _, a := range arrivals {
			streamOf[a.m.Lines[0]] = a.stream
		}
		got := merged(t, g, arrivals)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d (window %s, delays %v): "+format, append([]any{seed, window, delays}, args...)...)
		}
		if len(got) != len(want) {
			fail("%d lines out, %d in", len(got), len(want))
		}
		gotBy := map[string][]string{}
		for _, l := range got {
			gotBy[streamOf[l]] = append(gotBy[streamOf[l]], l)
		}
		for s, lines := range byStream {
			if !slices.Equal(gotBy[s], lines) {
				fail("stream %s out of its order: %v, want %v", s, gotBy[s], lines)
			}
		}
		if within {
			// lines of equal times may come in either order: compare the times
			timeOf := map[string]time.Time{}
			for _, a := range arrivals {
				timeOf[a.m.Lines[0]], _ = a.m.ReadTime()
			}
			for i := 1; i < len(got); i++ {
				if timeOf[got[i]].Before(timeOf[got[i-1]]) {
					fail("line %s (read %s) after line %s (read %s)", got[i], timeOf[got[i]], got[i-1], timeOf[got[i-1]])
				}
			}
		}
	}
}
