package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// filterLine is line i of the filter tests' log: one in seven an ERROR in
// red (one in fourteen about the disk), one in three a WARN, the rest INFO,
// one in fifty of them 3000 bytes long.
func filterLine(i int) string {
	switch {
	case i%7 == 0 && i%14 == 0:
		return fmt.Sprintf("\x1b[31mERROR\x1b[0m seq=%d disk full", i)
	case i%7 == 0:
		return fmt.Sprintf("\x1b[31mERROR\x1b[0m seq=%d timeout", i)
	case i%3 == 0:
		return fmt.Sprintf("WARN seq=%d slow", i)
	case i%50 == 1:
		return fmt.Sprintf("INFO seq=%d %s", i, strings.Repeat("x", 3000))
	default:
		return fmt.Sprintf("INFO seq=%d ok", i)
	}
}

func filterLines(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, filterLine(i))
	}
	return out
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// matching is what a grep/exclude pair keeps of lines, matched as a user
// expects: on the text without its colour codes.
func matching(lines []string, grep, exclude string, last int) []string {
	var out []string
	for _, l := range lines {
		text := string(render.StripANSI(nil, []byte(l)))
		if (grep == "" || regexp.MustCompile(grep).MatchString(text)) && (exclude == "" || !regexp.MustCompile(exclude).MatchString(text)) {
			out = append(out, l)
		}
	}
	if last >= 0 && len(out) > last {
		out = out[len(out)-last:]
	}
	return out
}

// jsonStream reads a json stream's messages and checks each position
// against the file: a line ends where LineEnds says, a line's size reaches
// back to the position given before it (the end of the line before, or the
// last pos heard), and a position without lines is a line boundary.
type jsonStream struct {
	t       *testing.T
	c       *wsconn.Client
	read    func() ([]byte, error) // a message from a plain-HTTP stream, instead of c
	path    string
	prev    int64 // the last position heard; -1 before any
	lines   []string
	events  []wire.Message
	empties int // messages with neither lines nor an event
}

func newJSONStream(t *testing.T, c *wsconn.Client, path string) *jsonStream {
	return &jsonStream{t: t, c: c, path: path, prev: -1}
}

// next reads one message; err is the stream's end.
func (js *jsonStream) next(deadline time.Time) (wire.Message, error) {
	t := js.t
	t.Helper()
	var data []byte
	var err error
	if js.read != nil {
		data, err = js.read()
	} else {
		js.c.SetDeadline(deadline)
		data, err = js.c.Next()
	}
	if err != nil {
		return wire.Message{}, err
	}
	m, err := wire.Decode(data)
	if err != nil {
		t.Fatalf("not a message: %q: %v", data, err)
	}
	content, err := os.ReadFile(js.path)
	if err != nil {
		t.Fatal(err)
	}
	_, off, ok := wire.OffsetOf(m.Pos)
	switch {
	case m.Event != "":
		js.events = append(js.events, m)
		if ok {
			js.prev = off
		}
		return m, nil
	case !ok:
		t.Fatalf("a message without a position: %q", data)
	case len(m.Lines) == 0:
		js.empties++
		if off > 0 && content[off-1] != '\n' || off < js.prev {
			t.Fatalf("position %d (after %d) is not a line boundary ahead", off, js.prev)
		}
	default:
		if len(m.Sizes) != len(m.Lines) {
			t.Fatalf("%d sizes for %d lines: %q", len(m.Sizes), len(m.Lines), data)
		}
		for i, end := range m.LineEnds() {
			_, e, _ := wire.OffsetOf(end)
			want := m.Lines[i] + "\n"
			if e < int64(len(want)) || string(content[e-int64(len(want)):e]) != want {
				t.Fatalf("line %q said to end at %d, where the file has %q", m.Lines[i], e, content[max(0, e-int64(len(want))):e])
			}
			if i == 0 && js.prev >= 0 && e-m.Sizes[0] != js.prev {
				t.Fatalf("line %q: its size %d reaches back to %d, not to the last position %d", m.Lines[i], m.Sizes[0], e-m.Sizes[0], js.prev)
			}
		}
		js.lines = append(js.lines, m.Lines...)
	}
	js.prev = off
	return m, nil
}

// until reads until cond holds of what was read.
func (js *jsonStream) until(what string, cond func() bool) {
	js.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if _, err := js.next(deadline); err != nil {
			js.t.Fatalf("waiting for %s: %v (lines %d, events %v)", what, err, len(js.lines), js.events)
		}
	}
}

// toEnd reads until the stream closes, which must be with 1000.
func (js *jsonStream) toEnd() {
	js.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := js.next(deadline); err != nil {
			if !wsconn.IsClose(err, wsconn.CodeNormal) {
				js.t.Fatalf("stream ended with %v", err)
			}
			return
		}
	}
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %d lines, want %d\ngot  %.600q\nwant %.600q", len(got), len(want), got, want)
	}
}

// filterCases are the filters the stream tests try, with how many of the
// last lines they ask for: of the lines filterLines makes, in every form.
var filterCases = []struct {
	name          string
	grep, exclude string
	n             int
}{
	{"grep", "ERROR", "", 5},
	{"exclude", "", "INFO|WARN", 6},
	{"both", "ERROR", "disk", 4},
	{"anchored past a colour code", "^ERROR seq=\\d+ disk", "", 3},
	{"many lines, many frames", "INFO", "", 3000},
	{"case", "(?i)warn", "seq=59", 2},
	{"none match", "NOTHING", "", 10},
}

// grep and exclude on the last lines and then on following: the last N
// lines that pass (the colour codes aside), from a file of many blocks, in
// every format; new lines filtered the same way; positions and sizes that
// account for the lines left out.
func TestFilterLastLinesAndFollow(t *testing.T) {
	td := startDaemon(t)
	old := filterLines(1, 6000) // about 450 KB
	p := td.write("app.log", joinLines(old))
	cases := filterCases
	for _, tc := range cases {
		q := url.Values{"lines": {strconv.Itoa(tc.n)}}
		if tc.grep != "" {
			q.Set("grep", tc.grep)
		}
		if tc.exclude != "" {
			q.Set("exclude", tc.exclude)
		}
		want := matching(old, tc.grep, tc.exclude, tc.n)
		t.Run(tc.name+"/json", func(t *testing.T) {
			js := newJSONStream(t, td.dial(p, q.Encode()+"&format=json"), p)
			js.toEnd()
			sameLines(t, js.lines, want)
			if fi, _ := os.Stat(p); js.prev != fi.Size() {
				t.Errorf("the stream ends at %d, not at the file's end %d", js.prev, fi.Size())
			}
		})
		t.Run(tc.name+"/text", func(t *testing.T) {
			out, err := testutil.ReadAll(t, td.dial(p, q.Encode()+"&format=text"))
			if !wsconn.IsClose(err, wsconn.CodeNormal) {
				t.Fatal(err)
			}
			if out != joinLines(want) {
				t.Fatalf("got %.300q\nwant %.300q", out, joinLines(want))
			}
		})
		t.Run(tc.name+"/html", func(t *testing.T) {
			out, err := testutil.ReadAll(t, td.dial(p, q.Encode()))
			if !wsconn.IsClose(err, wsconn.CodeNormal) {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if out == "" {
				got = nil
			}
			if len(got) != len(want) {
				t.Fatalf("%d html lines, want %d", len(got), len(want))
			}
			for i := range got {
				if seq := strings.Fields(string(render.StripANSI(nil, []byte(want[i]))))[1]; !strings.Contains(got[i], seq+" ") {
					t.Fatalf("html line %d %q is not of %q", i, got[i], want[i])
				}
			}
		})
	}
	// following: the same last lines, then the new lines that pass
	next := 6001
	for _, tc := range cases {
		q := url.Values{"lines": {strconv.Itoa(tc.n)}, "tail": {"1"}, "format": {"json"}}
		if tc.grep != "" {
			q.Set("grep", tc.grep)
		}
		if tc.exclude != "" {
			q.Set("exclude", tc.exclude)
		}
		t.Run(tc.name+"/follow", func(t *testing.T) {
			all := filterLines(1, next-1)
			want := matching(all, tc.grep, tc.exclude, tc.n)
			js := newJSONStream(t, td.dial(p, q.Encode()), p)
			js.until("the last lines", func() bool { return len(js.lines) >= len(want) && js.prev >= 0 })
			sameLines(t, js.lines, want)
			for range 3 {
				added := filterLines(next, next+99)
				next += 100
				td.write("app.log", joinLines(added))
				want = append(want, matching(added, tc.grep, tc.exclude, -1)...)
				js.until("the new lines", func() bool { return len(js.lines) >= len(want) })
				sameLines(t, js.lines, want)
			}
		})
	}
}

// Events always pass a filter: a truncation and a rotation reach the
// client, and the lines of the new file are filtered as the old.
func TestFilterEventsPass(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "INFO one\nERROR two\n")
	js := newJSONStream(t, td.dial(p, "lines=0&tail=1&format=json&grep=ERROR"), p)
	js.until("where the stream stands", func() bool { return js.prev >= 0 })
	td.write("app.log", "INFO three\nERROR four\n")
	js.until("ERROR four", func() bool { return len(js.lines) == 1 })
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", "ERROR five\nINFO six\n")
	js.until("the truncation and ERROR five", func() bool { return len(js.lines) == 2 })
	if len(js.events) == 0 || js.events[0].Event != wire.EventTruncated {
		t.Fatalf("events %+v, want truncated", js.events)
	}
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", "INFO seven\nERROR eight\n")
	js.until("the rotation and ERROR eight", func() bool { return len(js.lines) == 3 })
	if last := js.events[len(js.events)-1]; last.Event != wire.EventRotated {
		t.Fatalf("events %+v, want rotated last", js.events)
	}
	sameLines(t, js.lines, []string{"ERROR four", "ERROR five", "ERROR eight"})
}

// The search for the last matching lines stops at --max-scan-bytes: a json
// stream says so with a scan-limit event, sends what it found and goes on
// (a text one cannot say it, and only goes on); it never hangs, and what it
// holds does not grow with the budget.
func TestFilterScanLimit(t *testing.T) {
	const budget = 1 << 20
	td := startDaemon(t, func(c *Config) { c.MaxScanBytes = budget })
	filler := strings.Repeat(strings.Repeat("i", 99)+"\n", (5<<19)/100) // 2.5 MiB, no match
	p := td.write("old.log", "ERROR long ago\n"+filler)
	size := int64(len(filler) + 15)
	q := p + "?format=json&grep=ERROR&lines=5"

	js := newJSONStream(t, td.dial(p, "format=json&grep=ERROR&lines=5"), p)
	js.toEnd()
	if len(js.events) != 1 || js.events[0].Event != wire.EventScanLimit || js.events[0].Bytes == nil || *js.events[0].Bytes != budget {
		t.Fatalf("events %+v, want one scan-limit of %d bytes", js.events, budget)
	}
	t.Logf("%s: %s", q, js.events[0].Reason)
	if len(js.lines) != 0 || js.prev != size {
		t.Fatalf("%d lines, ending at %d; want none, at %d", len(js.lines), js.prev, size)
	}

	// some found within the budget: sent after the event
	p2 := td.write("some.log", "ERROR too old\n"+filler+"ERROR a\n"+filler[:200_000]+"ERROR b\n")
	js = newJSONStream(t, td.dial(p2, "format=json&grep=ERROR&lines=5"), p2)
	js.toEnd()
	sameLines(t, js.lines, []string{"ERROR a", "ERROR b"})
	if len(js.events) != 1 || !strings.HasPrefix(js.events[0].Reason, "found 2 of the 5") {
		t.Fatalf("events %+v", js.events)
	}

	// following: the event, then new lines
	js = newJSONStream(t, td.dial(p, "format=json&grep=ERROR&lines=5&tail=1"), p)
	js.until("the event", func() bool { return len(js.events) == 1 })
	if js.events[0].Event != wire.EventScanLimit || js.prev != size {
		t.Fatalf("event %+v, at %d", js.events[0], js.prev)
	}
	text := td.dial(p, "format=text&grep=ERROR&lines=5&tail=1")
	td.write("old.log", "INFO x\nERROR now\n")
	js.until("the new line", func() bool { return len(js.lines) == 1 })
	sameLines(t, js.lines, []string{"ERROR now"})
	if got := readLines(t, text, 1); got[0] != "ERROR now\n" {
		t.Fatalf("text: %q", got)
	}

	// memory: a search of the default 64 MiB (here 24 of them, in vain)
	// allocates a block and a line, not the file
	big := startDaemon(t)
	bp := big.write("big.log", strings.Repeat(filler, 10))
	out := big.dial(bp, "format=json&grep=ERROR&lines=5") // (a first one warms up the daemon's pools)
	testutil.ReadAll(t, out)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	got, err := testutil.ReadAll(t, big.dial(bp, "format=json&grep=ERROR&lines=5"))
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if !wsconn.IsClose(err, wsconn.CodeNormal) {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("searched %d bytes in %v, allocating %d bytes", 10*len(filler), took, alloc)
	if alloc > 4<<20 && !raceEnabled {
		t.Errorf("a search of %d bytes allocated %d bytes", 10*len(filler), alloc)
	}
	if !strings.HasPrefix(got, `{"lines":[],"pos"`) || strings.Contains(got, "scan-limit") {
		t.Errorf("the whole file was within the budget: %q", got)
	}
}

// While lines are read and none passes, a json stream says how far it has
// read, at most about once a second, and at least once: a resume does not
// read them again. The next line that passes reaches back to that position.
func TestFilterPositionWhileNothingMatches(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "start\n")
	js := newJSONStream(t, td.dial(p, "lines=0&tail=1&format=json&grep=MATCH"), p)
	js.until("where the stream stands", func() bool { return js.prev >= 0 })
	var size int64 = 6
	var said []time.Time
	for burst := range 5 { // thousands of lines, in bursts within a second
		s := numbered(burst*1000, burst*1000+999)
		td.write("app.log", s)
		size += int64(len(s))
	}
	deadline := time.Now().Add(10 * time.Second)
	for js.prev < size {
		m, err := js.next(deadline)
		if err != nil {
			t.Fatalf("the position did not reach the file's end %d (at %d): %v", size, js.prev, err)
		}
		if len(m.Lines) > 0 || m.Event != "" {
			t.Fatalf("unexpected %+v", m)
		}
		said = append(said, time.Now())
	}
	t.Logf("%d positions for 5000 lines", len(said))
	if len(said) < 1 || len(said) > 3 {
		t.Errorf("%d positions for 5000 lines that do not pass, want 1 to 3", len(said))
	}
	for i := 1; i < len(said); i++ {
		if gap := said[i].Sub(said[i-1]); gap < 800*time.Millisecond {
			t.Errorf("two positions %v apart", gap)
		}
	}
	td.write("app.log", "x\nMATCH\n")
	js.until("the line that passes", func() bool { return len(js.lines) == 1 }) // its size reaches back to the position
}

// A client that follows with a filter (client.Stream, resuming) through a
// daemon restart, while lines that pass and lines that do not are written
// before, during and after it, gets every line that passes exactly once, in
// order.
func TestFilterResumeThroughRestart(t *testing.T) {
	td := startDaemon(t)
	p := filepath.Join(td.root, "app.log")
	var mu sync.Mutex
	var written []int // the matching lines written, by number
	next := 0
	write := func(k int) { // from the writer's goroutine too: no t.Fatal
		var b strings.Builder
		mu.Lock()
		for range k {
			if next%3 == 0 {
				fmt.Fprintf(&b, "MATCH %d\n", next)
				written = append(written, next)
			} else {
				fmt.Fprintf(&b, "skip %d %s\n", next, strings.Repeat("-", next%200))
			}
			next++
		}
		mu.Unlock()
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.WriteString(b.String())
			f.Close()
		}
		if err != nil {
			panic(err)
		}
	}
	write(300) // before the client
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the writer, through the restart
		rng := rand.New(rand.NewPCG(1, 2))
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				write(1 + rng.IntN(40))
			}
		}
	})
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriter()

	u, _ := url.Parse("ws://" + td.addr + p)
	s := &client.Stream{URL: u, Lines: 10000, Follow: true, Retry: true, Grep: "^MATCH"}
	var gmu sync.Mutex
	var got []int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(m *wire.Message) error {
			gmu.Lock()
			defer gmu.Unlock()
			for _, l := range m.Lines {
				n, err := strconv.Atoi(strings.TrimPrefix(l, "MATCH "))
				if err != nil {
					return fmt.Errorf("a line that does not pass: %q", l)
				}
				got = append(got, n)
			}
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	count := func() int {
		gmu.Lock()
		defer gmu.Unlock()
		return len(got)
	}
	testutil.WaitFor(t, "lines before the restart", 20*time.Second, func() bool { return count() > 300 })
	td.shutdown()
	atRestart := count()
	startDaemonAt(t, td.root, td.addr) // stopped with the test
	testutil.WaitFor(t, "lines after the restart", 20*time.Second, func() bool { return count() > atRestart+300 })
	stopWriter()
	mu.Lock()
	want := append([]int(nil), written...)
	mu.Unlock()
	testutil.WaitFor(t, "every line that passes", 20*time.Second, func() bool { return count() >= len(want) })
	gmu.Lock()
	defer gmu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("line %d: got MATCH %d, want MATCH %d (%d received, %d written)", i, got[i], want[i], len(got), len(want))
			}
		}
		t.Fatalf("%d lines received, %d written", len(got), len(want))
	}
	t.Logf("%d matching lines, %d at the restart", len(got), atRestart)
}

// Many streams with one filter: each line is tested once, in the batch all
// of them share, not once per stream.
func TestFilterOncePerBatch(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "")
	const clients, lines = 16, 3000
	streams := make([]*jsonStream, clients)
	for i := range streams {
		streams[i] = newJSONStream(t, td.dial(p, "lines=0&tail=1&format=json&grep=MATCH"), p)
		streams[i].until("where the stream stands", func() bool { return streams[i].prev >= 0 })
	}
	var want []string
	for k := range 10 {
		var b strings.Builder
		for i := range lines / 10 {
			n := k*lines/10 + i
			if n%2 == 0 {
				fmt.Fprintf(&b, "MATCH %d\n", n)
				want = append(want, fmt.Sprintf("MATCH %d", n))
			} else {
				fmt.Fprintf(&b, "other %d\n", n)
			}
		}
		td.write("app.log", b.String())
	}
	for _, js := range streams {
		js.until("every line that passes", func() bool { return len(js.lines) >= len(want) })
		sameLines(t, js.lines, want)
	}
	f, err := td.d.filters.get("MATCH", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.evals.Load(); n != lines {
		t.Errorf("%d lines tested for %d lines and %d streams, want %d", n, lines, clients, lines)
	}
}
