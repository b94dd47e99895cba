package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkSplitLines: what a follower does with each 64 KiB block it reads,
// 100-byte lines, the block's last line unfinished (carried to the next).
func BenchmarkSplitLines(b *testing.B) {
	block := linesOf(readBlock/100+1, 100)[:readBlock]
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	sp := splitter{limit: 1 << 20}
	for b.Loop() {
		var out lines
		sp.split(&out, block)
	}
}

// BenchmarkFanout: one line appended, handed by the follower to every
// subscriber's queue, each subscriber told through Notify and taking it.
// ns/op is per line, for all subscribers; compare the counts in one run.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			name := filepath.Join(b.TempDir(), "app.log")
			appendTo(b, name, "")
			h := newTestHub(b, Config{Open: openFile})
			var told atomic.Int64
			arrived := make(chan struct{}, 1)
			notify := func() {
				if told.Add(1)%int64(n) == 0 {
					arrived <- struct{}{}
				}
			}
			subs := make([]*Subscription, n)
			for i := range subs {
				s, err := h.Subscribe(name, Options{Notify: notify})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(s.Close)
				subs[i] = s
			}
			take := func() {
				for _, s := range subs {
					for len(s.C) > 0 {
						s.Release(<-s.C)
					}
				}
			}
			<-arrived // each got its first batch, the position it starts at
			take()
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			line := linesOf(1, 100)
			for b.Loop() {
				if _, err := f.Write(line); err != nil {
					b.Fatal(err)
				}
				<-arrived
				take()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscriber")
		})
	}
}
