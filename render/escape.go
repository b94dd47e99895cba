package render

const (
	esc = 0x1b
	bel = 0x07
)

type seqKind uint8

const (
	seqOther seqKind = iota // any sequence that is dropped
	seqSGR                  // ESC [ params m, params only digits, ';' and ':'
)

// scanEscape parses the escape sequence that starts at line[i] (which is ESC) and returns the
// index just past it and its kind. For seqSGR the parameters are line[i+2 : end-1].
//
// A malformed sequence ends before the first byte that does not fit (that byte is then
// processed as text or as the start of the next sequence); an unterminated one runs to the end
// of the line.
func scanEscape(line []byte, i int) (end int, kind seqKind) {
	n := len(line)
	if i+1 >= n {
		return n, seqOther // lone ESC at the end
	}
	switch b := line[i+1]; {
	case b == '[': // CSI: params 0x30–0x3F, intermediates 0x20–0x2F, final 0x40–0x7E
		j := i + 2
		sgr := true
		for j < n && line[j] >= 0x30 && line[j] <= 0x3f {
			if c := line[j]; c > ';' { // '<', '=', '>', '?': private parameters
				sgr = false
			}
			j++
		}
		for j < n && line[j] >= 0x20 && line[j] <= 0x2f {
			sgr = false
			j++
		}
		if j >= n {
			return n, seqOther
		}
		if c := line[j]; c >= 0x40 && c <= 0x7e {
			if sgr && c == 'm' {
				return j + 1, seqSGR
			}
			return j + 1, seqOther
		}
		return j, seqOther
	case b == ']' || b == 'P' || b == '_' || b == '^' || b == 'X': // OSC, DCS, APC, PM, SOS
		for j := i + 2; j < n; j++ {
			switch line[j] {
			case bel:
				return j + 1, seqOther
			case esc:
				if j+1 < n && line[j+1] == '\\' {
					return j + 2, seqOther // ST
				}
				return j, seqOther // ESC ends the string and starts a new sequence
			}
		}
		return n, seqOther
	case b >= 0x20 && b <= 0x2f: // nF, e.g. charset select ESC ( B
		j := i + 2
		for j < n && line[j] >= 0x20 && line[j] <= 0x2f {
			j++
		}
		if j >= n {
			return n, seqOther
		}
		if c := line[j]; c >= 0x30 && c <= 0x7e {
			return j + 1, seqOther
		}
		return j, seqOther
	case b >= 0x30 && b <= 0x7e: // ESC 7, ESC =, ESC M, ESC \, ESC c, …
		return i + 2, seqOther
	default: // lone ESC
		return i + 1, seqOther
	}
}
