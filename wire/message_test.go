package wire

import (
	"strings"
	"testing"
)

// TestLineEnds: each line of a message ends where the file bytes of the
// lines after it begin, counted with the daemon's sizes, not the text's
// length, which differs for invalid UTF-8 and cut lines.
func TestLineEnds(t *testing.T) {
	cut := strings.Repeat("x", 10) + " [line cut]" // 25 x in the file, --max-line-bytes 10
	tests := []struct {
		name string
		m    Message
		want []string
	}{
		{"invalid UTF-8: first\\nsecond\\xff\\xfe\\n",
			Message{Lines: []string{"first", "second\ufffd\ufffd"}, Sizes: []int64{6, 9}, Pos: "2049:77:15"},
			[]string{"2049:77:6", "2049:77:15"}},
		{"the same at a later offset",
			Message{Lines: []string{"first", "second\ufffd\ufffd"}, Sizes: []int64{6, 9}, Pos: "2049:77:1015"},
			[]string{"2049:77:1006", "2049:77:1015"}},
		{"a cut line: a\\n, 25 x\\n, b\\n",
			Message{Lines: []string{"a", cut, "b"}, Sizes: []int64{2, 26, 2}, Pos: "1:2:30"},
			[]string{"1:2:2", "1:2:28", "1:2:30"}},
		{"tagged position, b",
			Message{Lines: []string{"first", "second\ufffd\ufffd"}, Sizes: []int64{6, 9}, Pos: "2049:77:b1234:15"},
			[]string{"2049:77:b1234:6", "2049:77:b1234:15"}},
		{"tagged position, h",
			Message{Lines: []string{"first", "second\ufffd\ufffd"}, Sizes: []int64{6, 9}, Pos: "2049:77:h9f3a:15"},
			[]string{"2049:77:h9f3a:6", "2049:77:h9f3a:15"}},
		{"an older daemon: no sizes, the text's length",
			Message{Lines: []string{"one", "three"}, Pos: "1:2:10"},
			[]string{"1:2:4", "1:2:10"}},
		{"sizes that are not the lines': the text's length",
			Message{Lines: []string{"one", "three"}, Sizes: []int64{4}, Pos: "1:2:10"},
			[]string{"1:2:4", "1:2:10"}},
		{"no lines", Message{Lines: []string{}, Sizes: []int64{}, Pos: "1:2:10"}, []string{}},
		{"a position with no offset: given as it is",
			Message{Lines: []string{"one", "two"}, Sizes: []int64{4, 4}, Pos: "opaque"},
			[]string{"opaque", "opaque"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m.LineEnds()
			if strings.Join(got, " ") != strings.Join(tt.want, " ") || len(got) != len(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
