package wire

import (
	"testing"
)

// TestPositionText: every form reads back to itself; malformed ones are refused.
func TestPositionText(t *testing.T) {
	for _, p := range []Position{
		{Dev: 2049, Ino: 12, Offset: 7},
		{Dev: 2049, Ino: 12, Born: 1796401760786253881, Offset: 0, Tagged: true},
		{Dev: 2049, Ino: 12, Born: 1796401760786253881, Asof: 1796401761000000001, Head: 0xcbf29ce484222325, Offset: 35, Tagged: true},
		{Dev: 1, Ino: 2, Head: 0xcafec0c0, Asof: 5, Offset: 64, Tagged: true},
		{Dev: 1, Ino: 2, Offset: 0, Tagged: true},
	} {
		got, err := ParsePosition(p.String())
		if err != nil || got != p {
			t.Errorf("%s: read back %+v, %v; want %+v", p, got, err, p)
		}
	}
	for _, s := range []string{"", "1:2", "1:2:3:4:5", "a:2:3", "1:2:-3", "1:2:x5:3", "1:2:b0:3", "1:2:b5.x.1:3",
		"1:2:b5.6.zz:3", "1:2:b:3", "1:2:b5.6:3", "1:2:b5.6.7.8:3", "1:2:b-5.6.7:3", "1:2:h5.6.7:3"} {
		if p, err := ParsePosition(s); err == nil {
			t.Errorf("%q: read as %+v, want an error", s, p)
		}
	}
}
