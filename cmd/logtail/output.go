package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/logtail/logtail/wire"

	"github.com/logtail/logtail/render"
)

// jsonLine is one line of -o json output; jsonEvent one file event. In a
// stream of many files, File is the line's file (source stays the URL's).
type jsonLine struct {
	Source  string `json:"source"`
	File    string `json:"file,omitempty"`
	Line    string `json:"line"`
	Pos     string `json:"pos"`
	Partial bool   `json:"partial,omitempty"`
	// Time is when the daemon read the line (its message's "time"), as it
	// gave it; absent from a daemon that does not say
	Time string `json:"time,omitempty"`
}

type jsonEvent struct {
	Source string `json:"source"`
	Event  string `json:"event"`
	Reason string `json:"reason,omitempty"`
	File   string `json:"file,omitempty"`
	Bytes  *int64 `json:"bytes,omitempty"` // a pointer: 0 bytes lost is news too
	Pos    string `json:"pos"`
}

// outputError is a failed write to stdout: every stream stops.
type outputError struct{ err error }

func (e outputError) Error() string { return "writing output: " + e.err.Error() }
func (e outputError) Unwrap() error { return e.err }

// printer writes the streams' lines to stdout and their notes to stderr. It
// is shared by the stream goroutines: each message is written whole under
// the lock and flushed, so lines of different sources never mix and output
// stays live.
type printer struct {
	cfg    *config
	mu     sync.Mutex
	out    *bufio.Writer
	enc    *json.Encoder
	stderr io.Writer
	buf    []byte

	// prefixes (several URLs): "source | ", padded to the widest source
	// seen so far, which grows as the files of a pattern come
	width    int
	prefixes map[fileKey]string

	// "==> FILE <==" lines (one URL of many files): the file of the last
	// header, and the files seen (the first message of each has its
	// header even with no lines, as in tail)
	last fileKey
	seen map[fileKey]bool
}

// fileKey is one file of one target (file "": the target's single file).
type fileKey struct {
	t    *target
	file string
}

func newPrinter(cfg *config, stdout, stderr io.Writer) *printer {
	p := &printer{cfg: cfg, out: bufio.NewWriterSize(stdout, 64<<10), stderr: stderr,
		prefixes: make(map[fileKey]string), seen: make(map[fileKey]bool)}
	p.enc = json.NewEncoder(p.out)
	p.enc.SetEscapeHTML(false)
	for _, t := range cfg.targets {
		p.width = max(p.width, utf8.RuneCountInString(t.source))
	}
	return p
}

// message prints one message of t's stream; many says that the stream is
// of many files (its messages name their file).
func (p *printer) message(t *target, many bool, m *wire.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := fileKey{t: t}
	if many {
		k.file = m.File
	}
	if m.Event != "" {
		if err := p.event(t, many, m); err != nil {
			return err
		}
		if m.Event == wire.EventJoined {
			p.seen[k] = true // its header comes with its first lines
		}
	}
	if p.cfg.json {
		p.jsonLines(t, k.file, m)
	} else if m.Event == "" {
		p.header(k, m)
		prefix := p.prefix(k)
		for _, line := range m.Lines {
			p.line(prefix, line, true)
		}
		if m.Partial != "" {
			// tail prints a last line without newline as it is; merged
			// with other sources it gets one, or the next line would join
			// it (a header's empty line ends it, as in tail)
			p.line(prefix, m.Partial, len(p.cfg.targets) > 1)
		}
	}
	if err := p.out.Flush(); err != nil {
		return outputError{err}
	}
	return nil
}

// header writes "==> FILE <==" before the lines of k, as GNU tail does with
// several files: when they are of another file than the last lines
// written, after an empty line but for the first. A file's first message
// has it even with no lines (tail -f shows every file it follows), but for
// the last 0 lines without following (tail -n 0 shows nothing). Only for
// one URL: with several, each line's prefix names its file; with
// --no-prefix, lines are bare.
func (p *printer) header(k fileKey, m *wire.Message) {
	if !p.cfg.headers || k.file == "" {
		return
	}
	first := !p.seen[k]
	p.seen[k] = true
	has := len(m.Lines) > 0 || m.Partial != ""
	if k == p.last || !has && !(first && (p.cfg.follow || k.t.follow || p.cfg.lines > 0 || p.cfg.fromLine > 0)) {
		return
	}
	if p.last != (fileKey{}) {
		p.out.WriteByte('\n')
	}
	p.last = k
	p.out.WriteString("==> " + printable(k.file) + " <==\n")
}

// prefix is what goes before each line of k: "" without prefixes, else its
// source (a file's own for a stream of many files), coloured, padded to the
// widest so far, and " | ".
func (p *printer) prefix(k fileKey) string {
	if !p.cfg.prefix {
		return ""
	}
	if s, ok := p.prefixes[k]; ok {
		return s
	}
	source := k.t.source
	if k.file != "" {
		source = printable(k.t.sourceOf(k.file))
	}
	if n := utf8.RuneCountInString(source); n > p.width {
		p.width = n
		clear(p.prefixes) // made for a narrower column
	}
	s := source + strings.Repeat(" ", p.width-utf8.RuneCountInString(source))
	if k.t.color != "" {
		s = "\x1b[" + k.t.color + "m" + s + "\x1b[0m"
	}
	s += " | "
	p.prefixes[k] = s
	return s
}

// line writes one line of text output, with its prefix and newline.
func (p *printer) line(prefix, line string, newline bool) {
	p.out.WriteString(prefix)
	if p.cfg.strip && needsStrip(line) {
		p.buf = strip(p.buf[:0], line)
		p.out.Write(p.buf)
	} else {
		p.out.WriteString(line)
	}
	if newline {
		p.out.WriteByte('\n')
	}
}

// jsonLines writes one object per line, each with the position of its end
// (in file, in a stream of many files).
func (p *printer) jsonLines(t *target, file string, m *wire.Message) {
	for i, pos := range m.LineEnds() {
		p.enc.Encode(jsonLine{Source: t.source, File: file, Line: p.stripped(m.Lines[i]), Pos: pos, Time: m.Time})
	}
	if m.Partial != "" {
		// an unfinished line ends where its text does: the daemon gives no size
		pos := m.PartialEnd()
		p.enc.Encode(jsonLine{Source: t.source, File: file, Line: p.stripped(m.Partial), Pos: pos, Partial: true, Time: m.Time})
	}
}

func (p *printer) stripped(line string) string {
	if !p.cfg.strip || !needsStrip(line) {
		return line
	}
	return string(strip(nil, line))
}

// needsStrip reports whether line holds anything strip removes: a C0
// control but the tab, DEL, a C1 control (U+0080–U+009F, or a byte
// 0x80–0x9F outside valid UTF-8).
func needsStrip(line string) bool {
	ascii := true
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c < 0x20 && c != '\t' && (c != '\r' || i != len(line)-1), c == 0x7f:
			return true
		case c == 0xc2 && i+1 < len(line) && line[i+1] <= 0x9f: // U+0080–U+009F
			return true
		case c >= 0x80:
			ascii = false
		}
	}
	return !ascii && !utf8.ValidString(line)
}

// strip appends line to dst without what --strip-ansi removes: escape
// sequences, C1 controls (U+009B is CSI, U+009D OSC: they are taken as the
// ESC sequences they stand for and removed whole, as a raw byte 0x9B or 0x9D
// outside valid UTF-8 is), every other C0 control but the tab (a lone CR or a
// BS would let a line overwrite what is shown; SO switches the character
// set) and DEL. A CR that ends the line stays: it is the CR of a CRLF line.
func strip(dst []byte, line string) []byte {
	// C1 controls as their 7-bit forms, ESC and the byte less 0x40, so that
	// render.StripANSI removes their sequences whole
	seven := make([]byte, 0, len(line)+8)
	for i := 0; i < len(line); {
		r, n := utf8.DecodeRuneInString(line[i:])
		switch {
		case r >= 0x80 && r <= 0x9f:
			seven = append(seven, 0x1b, byte(r-0x40))
		case r == utf8.RuneError && n == 1 && line[i] >= 0x80 && line[i] <= 0x9f:
			seven = append(seven, 0x1b, line[i]-0x40)
		default:
			seven = append(seven, line[i:i+n]...)
		}
		i += n
	}
	start := len(dst)
	dst = render.StripANSI(dst, seven)
	out := dst[:start]
	for i, c := range dst[start:] {
		if c < 0x20 && c != '\t' && !(c == '\r' && start+i == len(dst)-1) || c == 0x7f {
			continue
		}
		out = append(out, c)
	}
	return out
}

// event reports a file event: on stdout as an object with -o json, else as
// a note on stderr, as tail does. In a stream of many files the note starts
// with the file it is about.
func (p *printer) event(t *target, many bool, m *wire.Message) error {
	if p.cfg.json {
		p.enc.Encode(jsonEvent{Source: t.source, Event: m.Event, Reason: m.Reason, File: m.File, Bytes: m.Bytes, Pos: m.Pos})
		if m.Event != "gap" {
			return nil
		}
	}
	if err := p.out.Flush(); err != nil {
		return outputError{err}
	}
	var about string // "FILE: " in a stream of many files
	if many && m.File != "" {
		about = printable(m.File) + ": "
	}
	switch m.Event {
	case wire.EventRotated:
		p.notef(t, "%sfile replaced; following the new file", about)
	case wire.EventTruncated:
		p.notef(t, "%sfile truncated", about)
	case wire.EventGap:
		p.notef(t, "%s%s", about, gapWarning(m, about == ""))
	case wire.EventScanLimit:
		p.notef(t, "%sthe daemon stopped searching for matching lines: %s", about, printable(m.Reason))
	case wire.EventJoined:
		p.notef(t, "%snew file; following it from its start", about)
	case wire.EventLeft:
		reason := "no longer matches"
		if m.Reason != "" {
			reason = printable(m.Reason)
		}
		p.notef(t, "%sno longer followed: %s", about, reason)
	default:
		p.notef(t, "%sevent %s", about, printable(m.Event))
	}
	return nil
}

// gapWarning is the one line that tells of lines lost; withFile adds the
// file the event names (a single file's rotated generation).
func gapWarning(m *wire.Message, withFile bool) string {
	reason := m.Reason
	if reason == "" {
		reason = "unknown reason"
	}
	var b strings.Builder
	b.WriteString("warning: lines lost: ")
	b.WriteString(printable(reason))
	if m.Bytes != nil {
		fmt.Fprintf(&b, " (%d bytes)", *m.Bytes)
	}
	if withFile && m.File != "" {
		b.WriteString("; file ")
		b.WriteString(printable(m.File))
	}
	return b.String()
}

// maxShown bounds what is shown of one string from the daemon (a reason, a
// file name): enough for any path, not a screenful.
const maxShown = 1024

// printable is how everything the daemon says that is not log content (a
// refusal's reason, a close reason, an event's reason, file and name) is
// shown on stderr: cut to maxShown bytes, marked with "…", and Go-quoted if
// it holds anything that could drive the terminal or break the line (C0 and
// C1 controls, DEL, bidi overrides, invalid UTF-8), so a server can neither
// set the clipboard or the title nor forge a line.
func printable(s string) string {
	s, more := cut(s, maxShown)
	if !safe(s) {
		s = strconv.Quote(s)
	}
	if more {
		s += "…"
	}
	return s
}

// cut cuts s to at most n bytes, on a character's start, and says whether
// anything was left out.
func cut(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// safe reports whether s is valid UTF-8 made only of printable characters
// (strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space), which rules out every control and format character.
func safe(s string) bool {
	for i := 0; i < len(s); {
		n, ok := char(s, i)
		if !ok {
			return false
		}
		i += n
	}
	return true
}

// char is the length of the character at s[i], and whether it is printable
// (safe): an invalid byte counts as a character of one byte, not printable.
func char(s string, i int) (n int, printable bool) {
	if c := s[i]; c >= 0x20 && c < 0x7f {
		return 1, true
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return n, !(r == utf8.RuneError && n == 1) && strconv.IsPrint(r)
}

// escapeUnsafe writes every character of s that safe refuses as its Go
// escape (\x1b, \u009b, \u202e), and cuts s to maxNote bytes. notef passes
// every note through it, the last guard for text from the daemon that
// reached a note without printable (a certificate's names in a TLS error).
func escapeUnsafe(s string) string {
	if s, more := cut(s, maxNote); more {
		return escapeUnsafe(s) + "…"
	}
	if safe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		n, ok := char(s, i)
		if ok {
			b.WriteString(s[i : i+n])
		} else {
			q := strconv.Quote(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// maxNote bounds one note on stderr.
const maxNote = 4 << 10

// note writes "logtail: URL: text" on stderr, after the lines printed so far.
func (p *printer) note(t *target, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Flush()
	p.notef(t, format, args...)
}

func (p *printer) notef(t *target, format string, args ...any) {
	fmt.Fprintf(p.stderr, "logtail: %s\n", escapeUnsafe(t.arg+": "+fmt.Sprintf(format, args...)))
}

// flush writes what is buffered (at the end).
func (p *printer) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.out.Flush(); err != nil {
		return outputError{err}
	}
	return nil
}
