// grep= and exclude=: which lines a stream sends. A filter is compiled once
// per daemon and expression pair, applied once per batch for every stream
// that asked for it (tailer.Batch.Filter), and the last lines are the last
// N that pass, searched back at most --max-scan-bytes.

package server

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
)

// defaultMaxScanBytes is --max-scan-bytes' default.
const defaultMaxScanBytes = 64 << 20

// defaultMaxFiles is --max-files when a Config leaves it 0.
const defaultMaxFiles = 1000

// posEvery is how often, at most, a filtered json stream says how far it
// has read while no line passes: a resume then rescans at most that much.
const posEvery = time.Second

// lineFilter is a compiled grep/exclude pair. A line passes when it matches
// grep (if any) and not exclude (if any), matched against its text without
// ANSI escape sequences and without the '\r' of a CRLF line: a coloured
// "\x1b[31mERROR" matches ^ERROR. Safe for concurrent use.
type lineFilter struct {
	grep, exclude *regexp.Regexp
	tf            tailer.Filter
	evals         atomic.Int64 // lines tested, for tests: each once per batch
}

// stripped holds lines with escape sequences while they are matched.
var stripped = sync.Pool{New: func() any { return new([]byte) }}

func (f *lineFilter) keep(line []byte) bool {
	f.evals.Add(1)
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, 0x1b) < 0 {
		return f.match(line)
	}
	p := stripped.Get().(*[]byte)
	*p = render.StripANSI((*p)[:0], line)
	ok := f.match(*p)
	if cap(*p) <= 64<<10 {
		stripped.Put(p)
	}
	return ok
}

func (f *lineFilter) match(text []byte) bool {
	return (f.grep == nil || f.grep.Match(text)) && (f.exclude == nil || !f.exclude.Match(text))
}

// filterCache compiles each expression pair once, keeping up to maxFilters.
type filterCache struct {
	mu sync.Mutex
	by map[string]*lineFilter
}

const maxFilters = 256

// get is the filter of a query's grep and exclude; nil when neither is set.
func (c *filterCache) get(grep, exclude string) (*lineFilter, error) {
	if grep == "" && exclude == "" {
		return nil, nil
	}
	key := strconv.Itoa(len(grep)) + ":" + grep + exclude
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.by[key]; f != nil {
		return f, nil
	}
	f := new(lineFilter)
	for _, e := range []struct {
		name, re string
		dst      **regexp.Regexp
	}{{"grep", grep, &f.grep}, {"exclude", exclude, &f.exclude}} {
		if e.re == "" {
			continue
		}
		re, err := regexp.Compile(e.re)
		if err != nil { // wire.ParseQuery refused it already
			return nil, fmt.Errorf("%s: %v", e.name, err)
		}
		*e.dst = re
	}
	f.tf = tailer.Filter{Key: key, Keep: f.keep}
	if c.by == nil {
		c.by = make(map[string]*lineFilter)
	}
	if len(c.by) >= maxFilters {
		for k := range c.by { // any one: a stream holds its own
			delete(c.by, k)
			break
		}
	}
	c.by[key] = f
	return f, nil
}

// filterState is a filtered stream's part of its sender.
type filterState struct {
	f *lineFilter
	// read is where the lines taken so far end: ahead of the position the
	// client was last given (sender.pos) when lines after it were dropped.
	read   wire.Position
	saidAt time.Time   // when a position was last given, with lines or alone
	timer  *time.Timer // kicks the stream when a position is due
	kick   func()      // the stream's; nil without following (no timer)
}

// filter has s send only the lines f passes; from, when set, is where the
// stream starts (a resume), kick what wakes it to say a position.
func (s *sender) filter(f *lineFilter, from *wire.Position, kick func()) {
	if f == nil {
		return
	}
	s.flt = &filterState{f: f, kick: kick}
	if from != nil {
		s.pos, s.flt.read = *from, *from
	}
}

// put is add through the stream's filter: events and positions pass, the
// lines of a batch are those the filter keeps (made once for all the
// streams that share the filter). A json message ends at its last line, so
// a position past it (lines dropped after it) waits for sayRead.
func (s *sender) put(b *tailer.Batch) error {
	fs := s.flt
	if fs == nil {
		return s.add(b)
	}
	if b.Lines == 0 {
		if b.Event == "" && s.filled && s.pos != b.End {
			if err := s.flush(); err != nil { // the message ends at its last line
				return err
			}
		}
		if err := s.add(b); err != nil {
			return err
		}
		if b.End != (wire.Position{}) {
			fs.read = b.End
			s.pos = b.End // an event's position is the client's too
		}
		return nil
	}
	kept := b.Filter(fs.f.tf)
	if kept.Lines > 0 {
		if err := s.add(kept); err != nil { // its sizes count from fs.read (appendSizes)
			return err
		}
		s.pos = kept.End // (add's; a deflated batch went as a frame of its own)
		fs.saidAt = time.Now()
	}
	fs.read = b.End
	return nil
}

// appendSizes appends a batch's sizes to the message's. In a filtered
// stream the first line's size also counts the lines dropped since the
// line before it, in the batches before this one.
func (s *sender) appendSizes(b *tailer.Batch) []byte {
	form := b.Form(formSizes, jsonSizes)
	fs := s.flt
	if fs == nil || !wire.Continues(s.pos, fs.read) || !wire.Continues(fs.read, b.End) || fs.read.Offset == s.pos.Offset {
		return append(s.sizes, form...)
	}
	cut := bytes.IndexByte(form, ',')
	if cut < 0 {
		cut = len(form)
	}
	first, err := strconv.ParseInt(string(form[:cut]), 10, 64)
	if err != nil {
		return append(s.sizes, form...)
	}
	return append(strconv.AppendInt(s.sizes, first+fs.read.Offset-s.pos.Offset, 10), form[cut:]...)
}

// sayRead gives a json client, when lines it was not sent were read after
// its position, the position they end at: at once if none was given for
// posEvery (or now), else when that is up, so that a resume need not read
// them again. Not for text or html, which carry no positions.
func (s *sender) sayRead(now bool) error {
	fs := s.flt
	if fs == nil || s.format != wire.FormatJSON || fs.read == (wire.Position{}) ||
		wire.Continues(s.pos, fs.read) && fs.read.Offset == s.pos.Offset {
		return nil
	}
	if wait := posEvery - time.Since(fs.saidAt); !now && wait > 0 {
		if fs.kick != nil {
			if fs.timer == nil {
				fs.timer = time.AfterFunc(wait, fs.kick)
			} else {
				fs.timer.Reset(wait)
			}
		}
		return nil
	}
	if s.filled {
		if err := s.flush(); err != nil { // its lines end before the position
			return err
		}
	}
	fs.saidAt = time.Now()
	return s.add(&tailer.Batch{End: fs.read})
}

// stopFilter stops the timer of a stream that ends.
func (s *sender) stopFilter() {
	if s.flt != nil && s.flt.timer != nil {
		s.flt.timer.Stop()
	}
}

// scanLimit is the event that says the search for the last matching lines
// stopped at --max-scan-bytes.
func (d *Daemon) scanLimit(sc tailer.Scan, n int, pos *wire.Position) *tailer.Batch {
	b := &tailer.Batch{Event: wire.EventScanLimit, Bytes: sc.Bytes,
		Reason: fmt.Sprintf("found %d of the %d matching lines asked for in the last %d bytes (--max-scan-bytes %d); older lines were not searched",
			sc.Found, n, sc.Bytes, d.cfg.MaxScanBytes)}
	if pos != nil {
		b.End = *pos
	}
	return b
}

// filteredStart prepares a followed stream with a filter and last lines:
// it searches the file for where the last q.Lines matching lines start and
// has the subscription resume there (opt.From), so that the follower is not
// held up by the search and the catch-up is bounded as a resume's is. lead
// is what the stream sends first: where it stands, or that the search hit
// --max-scan-bytes.
func (d *Daemon) filteredStart(name string, q wire.Query, f *lineFilter, opt *tailer.Options) (lead *tailer.Batch, err error) {
	if f == nil || q.From != nil || q.Lines == 0 {
		return nil, nil
	}
	file, fi, _, err := d.box.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	sc, err := tailer.FindLast(file, fi.Size(), q.Lines, d.cfg.MaxLineBytes, d.cfg.MaxScanBytes, f.keep)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if sc.Start < 0 { // one line longer than the budget: follow from the end
		opt.Lines = 0
		return d.scanLimit(sc, q.Lines, nil), nil
	}
	pos, err := tailer.PositionAt(file, sc.Start)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	opt.From = &pos
	if sc.Limited {
		return d.scanLimit(sc, q.Lines, &pos), nil
	}
	return &tailer.Batch{End: pos}, nil
}

// lastMatching sends the last n lines that pass s's filter, of the first
// size bytes of f, searched back at most --max-scan-bytes, then where they
// end; with the file's unfinished last line when withPartial and it passes
// (it counts as one of the n, as in tail). Each chunk is read, filtered and
// sent in turn: what it holds is a block, a line and a frame.
func (d *Daemon) lastMatching(f *os.File, size int64, n int, withPartial bool, s *sender, send func(*tailer.Batch) error, colours tailer.Renderer, html bool) error {
	limit, asked := d.cfg.MaxLineBytes, n
	var partial []byte
	if withPartial {
		l, err := tailer.LastLines(f, size, 0, limit)
		if err != nil {
			return err
		}
		if p := wire.AppendValidUTF8(nil, l.Partial); len(p) > 0 && s.flt.f.keep(p) {
			partial = p
			n--
		}
	}
	sc, err := tailer.FindLast(f, size, n, limit, d.cfg.MaxScanBytes, s.flt.f.keep)
	if err != nil {
		return err
	}
	if sc.Limited {
		sc.Found += asked - n // the partial line
		var pos *wire.Position
		if sc.Start >= 0 {
			p, err := tailer.PositionAt(f, sc.Start)
			if err != nil {
				return err
			}
			pos = &p
		}
		if err := send(d.scanLimit(sc, asked, pos)); err != nil {
			return err
		}
	}
	if sc.Start >= 0 && sc.Stop > sc.Start {
		err := tailer.LinesEach(f, sc.Start, sc.Stop, limit, frameTarget, func(ch tailer.LastChunk) error {
			b := tailer.NewBatch(ch.Raw, html, colours)
			b.Sizes = ch.Sizes
			if err := b.Place(f, ch.End); err != nil {
				return err
			}
			return send(b)
		})
		if err != nil {
			return err
		}
	}
	stop := sc.Stop
	if stop < 0 {
		stop = size // no line end within reach
	}
	b := tailer.NewBatch(nil, false, colours)
	if err := b.Place(f, stop); err != nil {
		return err
	}
	if err := send(b); err != nil {
		return err
	}
	s.partial = partial // with the message that ends at stop
	return nil
}
