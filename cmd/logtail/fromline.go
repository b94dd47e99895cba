package main

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wire"
)

// -n +N prints each file from its line N on, as GNU tail does. The daemon
// sends the last lines, or resumes after a position (from=, followed);
// a position at offset 0 is a file's start (its head is the checksum of no
// bytes, see wire's Positions), and a stream of many files resumed from a
// cursor that names none of them reads each from its start. So a first short
// request (lines=1, not followed) gives each file's position and where it
// ends; the stream then starts at the start of each file and the lines
// before N are counted and dropped as they come, a message at a time: memory
// does not grow with the file. Without -f, the stream ends where each file
// ended at the first request, with the unfinished last line it gave, as
// tail prints it; lines written since are not printed. With --include the
// lines counted are those that match (grep RE | tail -n +N).

// followFromLines runs the targets' streams for -n +N, each from its first
// request. newStream makes a target's stream as run does (its notes, TLS,
// token); handle is given each message to print, ended each target's error
// as it ends. Followed targets run at once; the others one after the other,
// each to its end, as tail -n +N a b prints a, then b. A failed write to
// stdout (from handle) stops them all.
func followFromLines(ctx context.Context, targets []*target, newStream func(*target) *client.Stream,
	handle func(t *target, many bool, m *wire.Message) error, ended func(*target, error)) []error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		one := func() {
			err := followFromLine(ctx, t, newStream, func(many bool, m *wire.Message) error { return handle(t, many, m) })
			var oe outputError
			switch {
			case errors.As(err, &oe):
				cancel()
			case err != nil && ctx.Err() != nil:
				err = nil // stopped: a clean end
			case err != nil:
				ended(t, err)
			}
			errs[i] = err
		}
		if t.follow {
			wg.Go(one)
		} else if ctx.Err() == nil {
			one()
		}
	}
	wg.Wait()
	return errs
}

// fromLine is one stream's state for -n +N.
type fromLine struct {
	n      int
	follow bool
	many   bool                // a stream of many files: messages name their file
	seen   map[string]int      // lines seen, by file ("" for a single file)
	shown  map[string]bool     // files whose message was handed on
	ends   map[string]*fileEnd // where each file ended at the first request
	left   int                 // without -f: files not yet at their end
	stop   context.CancelFunc  // ends the stream
	handle func(many bool, m *wire.Message) error
}

// fileEnd is where a file ended at the first request: after its last
// complete line, then its unfinished one.
type fileEnd struct {
	pos     wire.Position
	partial string
	done    bool
}

// followFromLine is one target's -n +N: the first request, then the stream.
func followFromLine(ctx context.Context, t *target, newStream func(*target) *client.Stream, handle func(many bool, m *wire.Message) error) error {
	f := &fromLine{n: t.fromLine, follow: t.follow, seen: map[string]int{}, shown: map[string]bool{}, ends: map[string]*fileEnd{}, handle: handle}
	probe := newStream(t)
	probe.Lines, probe.Follow, probe.From, probe.Grep, probe.Exclude = 1, false, "", "", ""
	var start wire.Position // of the file, for a single one
	err := probe.Run(ctx, func(m *wire.Message) error {
		if m.Event != "" || m.Pos == "" {
			return nil
		}
		pos, err := wire.ParsePosition(m.Pos)
		if err != nil {
			return err
		}
		key := ""
		if probe.Many() {
			key = m.File
		}
		start = pos
		f.ends[key] = &fileEnd{pos: pos, partial: m.Partial}
		return nil
	})
	if err != nil || ctx.Err() != nil {
		return err
	}

	s := newStream(t)
	s.Follow = true // from= resumes a followed stream; without -f, stop ends it
	// a directory or a pattern (or a stream with no file yet) is many files
	f.many = probe.Many() || len(f.ends) == 0
	if f.many {
		s.From = (&wire.Cursor{}).String() // naming no file: each is read from its start
	} else {
		start.Offset, start.Head = 0, fnv.New64a().Sum64()
		s.From = start.String()
	}
	ctx, f.stop = context.WithCancel(ctx)
	defer f.stop()
	if !f.follow {
		f.left = len(f.ends)
		for key, end := range f.ends {
			if end.pos.Offset == 0 { // nothing before its unfinished line
				if err := f.finish(key, end, true); err != nil {
					return err
				}
			}
		}
		if f.left == 0 {
			return nil
		}
	}
	return client.FollowAll(ctx, []*client.Stream{s}, func(_ *client.Stream, m *wire.Message) error { return f.message(m) }, nil)[0]
}

// message drops what comes before line N of m's file, and without -f what
// comes after where the file ended, then hands the rest on.
func (f *fromLine) message(m *wire.Message) error {
	key := ""
	if f.many {
		key = m.File
	}
	end, initial := f.ends[key]
	if !f.follow && (!initial || end.done) {
		return nil // a file that came since the first request, or one done
	}
	switch m.Event {
	case "":
	case wire.EventJoined:
		if initial {
			return nil // there from the start, and read from its start as asked: no news
		}
		return f.handle(f.many, m)
	case wire.EventGap:
		return f.handle(f.many, m)
	default: // rotated, truncated, left: without -f, the file ended as it was
		if !f.follow {
			return f.finish(key, end, false)
		}
		return f.handle(f.many, m)
	}
	if !f.follow {
		if pos, err := wire.ParsePosition(m.Pos); err == nil && wire.Continues(end.pos, pos) {
			cutAfter(m, end.pos)
			if err := f.print(key, m); err != nil {
				return err
			}
			return f.finish(key, end, true)
		}
	}
	return f.print(key, m)
}

// cutAfter leaves out of m the lines that end after end.
func cutAfter(m *wire.Message, end wire.Position) {
	ends := m.LineEnds()
	keep := len(ends)
	for keep > 0 {
		if _, off, ok := wire.OffsetOf(ends[keep-1]); ok && off <= end.Offset {
			break
		}
		keep--
	}
	if keep == len(m.Lines) {
		return
	}
	m.Pos = end.String()
	if keep > 0 {
		m.Pos = ends[keep-1]
	}
	m.Lines = m.Lines[:keep]
	if len(m.Sizes) > keep {
		m.Sizes = m.Sizes[:keep]
	}
}

// print hands m on without the lines before line N.
func (f *fromLine) print(key string, m *wire.Message) error {
	seen := f.seen[key]
	f.seen[key] = seen + len(m.Lines)
	if drop := min(max(f.n-1-seen, 0), len(m.Lines)); drop > 0 {
		m.Lines = m.Lines[drop:]
		if len(m.Sizes) >= drop {
			m.Sizes = m.Sizes[drop:]
		}
	}
	f.shown[key] = true
	return f.handle(f.many, m) // with no lines too: a file's header, as tail shows it
}

// finish ends a file without -f: with its unfinished last line when
// partial says so and it is line N or later; then, once every file is
// done, the stream.
func (f *fromLine) finish(key string, end *fileEnd, partial bool) error {
	end.done = true
	f.left--
	m := &wire.Message{Pos: end.pos.String(), File: key}
	if partial && end.partial != "" && f.seen[key]+1 >= f.n {
		m.Partial = end.partial
	}
	if m.Partial != "" || !f.shown[key] { // its unfinished line, or its header
		f.shown[key] = true
		if err := f.handle(f.many, m); err != nil {
			return err
		}
	}
	if f.left == 0 {
		f.stop()
	}
	return nil
}
