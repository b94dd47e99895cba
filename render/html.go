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

// sentinel ends the library's input: it resets the style and writes one plain 'X', which is cut
// from the output. It stops terminal-to-html from trimming trailing blanks and from turning a
// blank line into &nbsp;.
const sentinel = "\x1b[mX"

// appendEscapes renders a line that holds at least one ESC.
func (s *Stream) appendEscapes(dst, line []byte) []byte {
	// Build the library's input: sanitised text and canonical SGR sequences only.
	buf := s.buf[:0]
	var sent style // state the library has been given
	styled := false
	text := func(t []byte) {
		if len(t) == 0 {
			return
		}
		if s.st != sent {
			buf = s.st.appendSGR(buf)
			sent = s.st
		}
		if !s.st.isDefault() {
			styled = true
		}
		buf = appendText(buf, t, false)
	}
	for i := 0; i < len(line); {
		j := i
		for j < len(line) && line[j] != esc {
			j++
		}
		text(line[i:j])
		if j == len(line) {
			break
		}
		end, kind := scanEscape(line, j)
		if kind == seqSGR {
			s.st = s.st.apply(line[j+2 : end-1])
		}
		i = end
	}

	if !styled {
		// All text is unstyled, so buf holds no escape sequence: no need for the library.
		dst = appendHTMLText(dst, buf)
	} else {
		buf = append(buf, sentinel...)
		out := terminal.Render(buf)
		if len(out) > 0 && out[len(out)-1] == 'X' {
			out = out[:len(out)-1]
		}
		dst = append(dst, out...)
	}
	if cap(buf) <= 1<<16 {
		s.buf = buf
	}
	return dst
}

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
