package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestStrip: --strip-ansi removes escape sequences, C1 controls (as UTF-8
// and as raw bytes, their sequences whole), and every control that moves
// the cursor or changes the terminal, but the tab and a CR that ends the line.
func TestStrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"tab\tstays", "tab\tstays"},
		{"crlf\r", "crlf\r"},
		{"innocent\rEVIL", "innocentEVIL"},
		{"back\b\b\bspace", "backspace"},
		{"bell\a and DEL\x7f", "bell and DEL"},
		{"shift out\x0e in\x0f, nul\x00", "shift out in, nul"},
		{"\x1b[1;31mred\x1b[0m", "red"},
		{"\x1b]52;c;ZXZpbA==\x07clipboard", "clipboard"},
		{"C1 CSI \u009b31mred\u009b0m", "C1 CSI red"},
		{"C1 OSC \u009d0;title\u009c after", "C1 OSC  after"},
		{"C1 OSC to BEL \u009d0;title\a after", "C1 OSC to BEL  after"},
		{"raw CSI \x9b31mred", "raw CSI red"},
		{"raw OSC \x9d0;t\x9c after", "raw OSC  after"},
		{"lone C1 at the end \u009b", "lone C1 at the end "},
		{"other C1 \u0085NEL \u008dRI", "other C1 NEL RI"}, // as ESC E and ESC M
		{"unicode: héllo ✓ 日本語 🚀 ¢", "unicode: héllo ✓ 日本語 🚀 ¢"},
		{"invalid UTF-8 stays: \xff\xfe", "invalid UTF-8 stays: \xff\xfe"},
		{"a CR not at the end\r\x07", "a CR not at the end"},
	}
	for _, tt := range tests {
		if got := string(strip(nil, tt.in)); got != tt.want {
			t.Errorf("strip(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if needs := needsStrip(tt.in); needs != (tt.in != tt.want) && !strings.Contains(tt.in, "\xff") {
			t.Errorf("needsStrip(%q) = %v", tt.in, needs) // invalid UTF-8 is looked at, and copied
		}
	}
}

// TestPrintable: text from the daemon that is not log content is cut and
// shown quoted when it could drive the terminal.
func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"the file is gone", "the file is gone"},
		{"/var/log/héllo ✓.log", "/var/log/héllo ✓.log"},
		{"osc 52 \x1b]52;c;ZXZpbA==\a", `"osc 52 \x1b]52;c;ZXZpbA==\a"`},
		{"C1 \u009b2J \u009d0;t\u009c", `"C1 \u009b2J \u009d0;t\u009c"`},
		{"bidi \u202eevil \u2066x\u2069", `"bidi \u202eevil \u2066x\u2069"`},
		{"line\nbreak\r", `"line\nbreak\r"`},
		{"DEL\x7f BS\b", `"DEL\x7f BS\b"`},
		{"raw \x9b\x9d\xff", `"raw \x9b\x9d\xff"`},
		{strings.Repeat("a", 2000), strings.Repeat("a", 1024) + "…"},
		{strings.Repeat("é", 600), strings.Repeat("é", 512) + "…"},
		{strings.Repeat("a", 1023) + "é", strings.Repeat("a", 1023) + "…"}, // not half a rune
		{strings.Repeat("\x1b", 2000), strconv.Quote(strings.Repeat("\x1b", 1024)) + "…"},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%.40q) = %.80q, want %.80q", tt.in, got, tt.want)
		}
	}
}

// TestEscapeUnsafe: the last guard of every note escapes what printable
// would have quoted, leaves what it made alone, and bounds the line.
func TestEscapeUnsafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://h/a.log: connection refused", "ws://h/a.log: connection refused"},
		{`ws://h/a.log: 403 Forbidden: "a\x1b"`, `ws://h/a.log: 403 Forbidden: "a\x1b"`},
		{"x509: certificate is valid for \x1b]0;t\a, not h", `x509: certificate is valid for \x1b]0;t\a, not h`},
		{"\u009b\u202e\xff", `\u009b\u202e\xff`},
		{strings.Repeat("a", 5000), strings.Repeat("a", 4096) + "…"},
	}
	for _, tt := range tests {
		if got := escapeUnsafe(tt.in); got != tt.want {
			t.Errorf("escapeUnsafe(%.40q) = %.80q, want %.80q", tt.in, got, tt.want)
		}
	}
}
