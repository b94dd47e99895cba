package render

import (
	"bytes"
	"unicode/utf8"

	terminal "github.com/buildkite/terminal-to-html/v3"
)

const replacement = "\uFFFD"

// Byte classes for the text scanners.
const (
	bcCopy    = iota
	bcHTML    // '<', '>', '&', '"', '\'': escaped in HTML
	bcControl // C0 (but TAB) and DEL: U+FFFD
	bcMulti   // >= 0x80: decode
)

var byteClass = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = bcControl
	}
	t['\t'] = bcCopy
	t[0x7f] = bcControl
	for _, c := range `<>&"'` {
		t[c] = bcHTML
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = bcMulti
	}
	return t
}()

var entity = [256]string{'<': "&lt;", '>': "&gt;", '&': "&amp;", '"': "&quot;", '\'': "&#39;"}

// appendText appends s with invalid UTF-8, control characters (but TAB) and C1 controls
// replaced by U+FFFD; with html, also with '<', '>', '&', '"', apostrophe escaped. ESC counts as a
// control character: callers remove escape sequences first.
func appendText(dst, s []byte, html bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch byteClass[c] {
		case bcCopy:
			i++
			continue
		case bcMulti:
			r, n := utf8.DecodeRune(s[i:])
			if !(r == utf8.RuneError && n == 1) && !(r >= 0x80 && r <= 0x9f) {
				i += n
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, replacement...)
			i += n
			start = i
			continue
		case bcHTML:
			if !html {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, entity[c]...)
		case bcControl:
			dst = append(dst, s[start:i]...)
			dst = append(dst, replacement...)
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

func appendHTMLText(dst, s []byte) []byte { return appendText(dst, s, true) }

// openTag returns the <span> that opens s.st.
func (s *Stream) openTag() []byte {
	if s.tag == nil || s.tagFor != s.st {
		s.tag = append(s.tag[:0], `<span class="`...)
		s.tag = s.st.appendClasses(s.tag)
		s.tag = append(s.tag, `">`...)
		s.tagFor = s.st
	}
	return s.tag
}

// appendEscapes renders a line that holds at least one ESC: its text in runs
// of one style, escape sequences dropped and SGR applied to the state.
func (s *Stream) appendEscapes(dst, line []byte) []byte {
	run := s.run[:0] // text in the current style, not yet rendered
	runStyle := s.st
	for i := 0; i < len(line); {
		j := i + bytes.IndexByte(line[i:], esc)
		if j < i {
			j = len(line)
		}
		if j > i {
			if s.st != runStyle && len(run) > 0 {
				dst = s.appendRun(dst, runStyle, run)
				run = run[:0]
			}
			runStyle = s.st
			// each piece is made valid on its own: bytes on both sides of a
			// dropped sequence must not join into a character
			run = appendText(run, line[i:j], false)
		}
		if j == len(line) {
			break
		}
		end, kind := scanEscape(line, j)
		if kind == seqSGR {
			s.st = s.st.apply(line[j+2 : end-1])
		}
		i = end
	}
	dst = s.appendRun(dst, runStyle, run)
	if cap(run) <= 1<<16 {
		s.run = run
	}
	return dst
}

// Runs up to maxCachedRun bytes are remembered, up to maxCachedRuns of them:
// logs repeat their coloured words ("INFO", "ERROR", a level, a key), and the
// library renders about 30 MB/s while a map lookup costs next to nothing.
const (
	maxCachedRun  = 64
	maxCachedRuns = 4096
)

type runKey struct {
	st   style
	text string
}

// appendRun appends text (valid UTF-8, no controls) in style st. Unstyled text
// is only escaped; styled text is rendered by terminal-to-html from the
// canonical SGR sequence of st.
func (s *Stream) appendRun(dst []byte, st style, text []byte) []byte {
	if len(text) == 0 {
		return dst
	}
	if st.isDefault() {
		return appendHTMLText(dst, text)
	}
	cacheable := len(text) <= maxCachedRun
	if cacheable {
		if html, ok := s.runs[runKey{st, string(text)}]; ok {
			return append(dst, html...)
		}
	}
	buf := st.appendSGR(s.buf[:0])
	buf = append(buf, text...) // already made valid by appendEscapes
	buf = append(buf, sentinel...)
	out := terminal.Render(buf)
	if len(out) > 0 && out[len(out)-1] == 'X' {
		out = out[:len(out)-1]
	}
	if cap(buf) <= 1<<16 {
		s.buf = buf
	}
	if cacheable {
		if s.runs == nil || len(s.runs) >= maxCachedRuns {
			s.runs = make(map[runKey]string)
		}
		s.runs[runKey{st, string(text)}] = out
	}
	return append(dst, out...)
}

// sentinel ends the library's input: it resets the style and writes one plain 'X', which is cut
// from the output. It stops terminal-to-html from trimming trailing blanks and from turning a
// blank line into &nbsp;.
const sentinel = "\x1b[mX"

// Advance carries the colour state over line without rendering it: the
// follower of a file calls it for lines nobody wants as HTML, so that the
// first HTML subscriber to come later sees the colours right.
func (s *Stream) Advance(line []byte) {
	for i := bytes.IndexByte(line, esc); i >= 0 && i < len(line); {
		end, kind := scanEscape(line, i)
		if kind == seqSGR {
			s.st = s.st.apply(line[i+2 : end-1])
		}
		next := bytes.IndexByte(line[end:], esc)
		if next < 0 {
			return
		}
		i = end + next
	}
}
