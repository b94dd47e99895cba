package wire

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func TestAppendValidUTF8(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"ascii", "hello", "hello"},
		{"ansi and CR kept", "\x1b[31mred\x1b[0m\r", "\x1b[31mred\x1b[0m\r"},
		{"NUL kept", "a\x00b", "a\x00b"},
		{"utf8", "größe 日本 \U0001F600", "größe 日本 \U0001F600"},
		{"invalid bytes", "a\xff\xfeb", "a\uFFFD\uFFFDb"},
		{"truncated rune", "\xe6\x97", "\uFFFD\uFFFD"},
		{"surrogate", "\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"overlong", "\xc0\xaf", "\uFFFD\uFFFD"},
		{"valid U+FFFD kept", "\uFFFD\xff", "\uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendValidUTF8([]byte("p"), []byte(tt.in))
			if string(got) != "p"+tt.want {
				t.Errorf("got %q, want %q", got, "p"+tt.want)
			}
		})
	}
}

func FuzzAppendValidUTF8(f *testing.F) {
	for _, s := range []string{"", "plain", "\xff\xfe\x00\r\n", "\xe6\x97", "\xed\xa0\x80", "größe 日本"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := AppendValidUTF8(nil, data)
		if !utf8.Valid(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		if utf8.Valid(data) != bytes.Equal(out, data) {
			t.Fatalf("%q became %q", data, out)
		}
		// Converting to []rune turns each invalid byte into one U+FFFD, like AppendValidUTF8.
		if want := string([]rune(string(data))); string(out) != want {
			t.Fatalf("%q became %q, want %q", data, out, want)
		}
	})
}
