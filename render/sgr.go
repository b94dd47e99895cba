package render

import "strconv"

// style is SGR state as terminal-to-html understands it.
type style struct {
	fg, bg uint16 // 0: default; 30–37, 90–97 / 40–47, 100–107: SGR colour; 256+n: xterm colour n
	attrs  uint8
}

const (
	attrBold uint8 = 1 << iota
	attrFaint
	attrItalic
	attrUnderline
	attrBlink
	attrStrike
)

const xterm = 256 // style.fg/bg offset of 256-colour indexes

func (st style) isDefault() bool { return st == style{} }

// attrCodes are the SGR codes of the attrs bits, in the order terminal-to-html lists their
// classes (term-fg1, term-fg2, …).
var attrCodes = [...]struct {
	bit  uint8
	code string
}{
	{attrBold, "1"}, {attrFaint, "2"}, {attrItalic, "3"}, {attrUnderline, "4"}, {attrBlink, "5"}, {attrStrike, "9"},
}

// appendClasses appends the class attribute value terminal-to-html emits for st.
func (st style) appendClasses(dst []byte) []byte {
	sep := false
	add := func(s string, n int) {
		if sep {
			dst = append(dst, ' ')
		}
		sep = true
		dst = append(dst, s...)
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	switch {
	case st.fg >= xterm:
		add("term-fgx", int(st.fg-xterm))
	case st.fg >= 90:
		add("term-fgi", int(st.fg))
	case st.fg != 0:
		add("term-fg", int(st.fg))
	}
	switch {
	case st.bg >= xterm:
		add("term-bgx", int(st.bg-xterm))
	case st.bg >= 100:
		add("term-bgi", int(st.bg))
	case st.bg != 0:
		add("term-bg", int(st.bg))
	}
	for _, a := range attrCodes {
		if st.attrs&a.bit != 0 {
			add("term-fg", int(a.code[0]-'0'))
		}
	}
	return dst
}

// appendSGR appends a sequence that sets exactly st from any state.
func (st style) appendSGR(dst []byte) []byte {
	dst = append(dst, "\x1b[0"...)
	for i, c := range [2]uint16{st.fg, st.bg} {
		switch {
		case c >= xterm:
			if i == 0 {
				dst = append(dst, ";38;5;"...)
			} else {
				dst = append(dst, ";48;5;"...)
			}
			dst = strconv.AppendInt(dst, int64(c-xterm), 10)
		case c != 0:
			dst = append(dst, ';')
			dst = strconv.AppendInt(dst, int64(c), 10)
		}
	}
	for _, a := range attrCodes {
		if st.attrs&a.bit != 0 {
			dst = append(dst, ';')
			dst = append(dst, a.code...)
		}
	}
	return append(dst, 'm')
}

// sgrParam is one SGR parameter; sub is true when it followed a ':' (an ISO 8613-6 sub-parameter).
type sgrParam struct {
	v   int // -1: empty
	sub bool
}

const maxSGRParams = 64

// apply returns st updated by the SGR parameter string p (digits, ';' and ':').
func (st style) apply(p []byte) style {
	var buf [maxSGRParams]sgrParam
	ps := buf[:0]
	cur := sgrParam{v: -1}
	for _, c := range p {
		switch {
		case c >= '0' && c <= '9':
			if cur.v < 0 {
				cur.v = 0
			}
			if cur.v < 1<<20 {
				cur.v = cur.v*10 + int(c-'0')
			}
		default: // ';' or ':'
			if len(ps) < maxSGRParams {
				ps = append(ps, cur)
			}
			cur = sgrParam{v: -1, sub: c == ':'}
		}
	}
	if len(ps) < maxSGRParams {
		ps = append(ps, cur)
	}

	val := func(k int) int {
		if k < len(ps) && ps[k].v > 0 {
			return ps[k].v
		}
		return 0
	}
	for k := 0; k < len(ps); k++ {
		code := val(k)
		// Colon sub-parameters of this parameter: ps[k+1:subEnd].
		subEnd := k + 1
		for subEnd < len(ps) && ps[subEnd].sub {
			subEnd++
		}
		hasSub := subEnd > k+1
		switch code {
		case 0:
			st = style{}
		case 1:
			st.attrs = st.attrs&^attrFaint | attrBold
		case 2:
			st.attrs = st.attrs&^attrBold | attrFaint
		case 3:
			st.attrs |= attrItalic
		case 4:
			if hasSub && val(k+1) == 0 {
				st.attrs &^= attrUnderline // 4:0
			} else {
				st.attrs |= attrUnderline // 4, 4:1 … 4:5 (curly etc.)
			}
		case 5, 6:
			st.attrs |= attrBlink
		case 9:
			st.attrs |= attrStrike
		case 21: // doubly underlined (ECMA-48, xterm)
			st.attrs |= attrUnderline
		case 22:
			st.attrs &^= attrBold | attrFaint
		case 23:
			st.attrs &^= attrItalic
		case 24:
			st.attrs &^= attrUnderline
		case 25:
			st.attrs &^= attrBlink
		case 29:
			st.attrs &^= attrStrike
		case 30, 31, 32, 33, 34, 35, 36, 37, 90, 91, 92, 93, 94, 95, 96, 97:
			st.fg = uint16(code)
		case 39:
			st.fg = 0
		case 40, 41, 42, 43, 44, 45, 46, 47, 100, 101, 102, 103, 104, 105, 106, 107:
			st.bg = uint16(code)
		case 49:
			st.bg = 0
		case 38, 48, 58: // extended colour; 58 (underline colour) is parsed and ignored
			var c int
			if hasSub {
				c = extColour(ps[k+1:subEnd], true)
			} else {
				var used int
				c, used = extColourSemi(ps[k+1:])
				subEnd = k + 1 + used
			}
			if c >= 0 {
				switch code {
				case 38:
					st.fg = uint16(xterm + c)
				case 48:
					st.bg = uint16(xterm + c)
				}
			}
		}
		k = subEnd - 1
	}
	return st
}

func pv(p sgrParam) int {
	if p.v < 0 {
		return 0
	}
	return p.v
}

// extColour decodes the colon form after 38/48: 5:n, 2:r:g:b or 2:colourspace:r:g:b.
// It returns the xterm colour index, or -1.
func extColour(sub []sgrParam, colon bool) int {
	if len(sub) < 2 {
		return -1
	}
	switch pv(sub[0]) {
	case 5:
		if n := pv(sub[1]); n <= 255 {
			return n
		}
	case 2:
		rgb := sub[1:]
		if colon && len(rgb) >= 4 {
			rgb = rgb[1:] // skip the colour-space id
		}
		if len(rgb) < 3 {
			return -1
		}
		r, g, b := pv(rgb[0]), pv(rgb[1]), pv(rgb[2])
		if r <= 255 && g <= 255 && b <= 255 {
			return rgbToXterm(r, g, b)
		}
	}
	return -1
}

// extColourSemi decodes the semicolon form after 38/48 (5;n or 2;r;g;b) and reports how many
// parameters it used.
func extColourSemi(ps []sgrParam) (c, used int) {
	if len(ps) == 0 {
		return -1, 0
	}
	switch pv(ps[0]) {
	case 5:
		used = min(2, len(ps))
	case 2:
		used = min(4, len(ps))
	default:
		return -1, 1
	}
	return extColour(ps[:used], false), used
}

var cubeLevels = [6]int{0, 0x5f, 0x87, 0xaf, 0xd7, 0xff}

// rgbToXterm returns the xterm 256-colour index (16–255) nearest to r, g, b.
func rgbToXterm(r, g, b int) int {
	to6 := func(v int) int {
		switch {
		case v < 48:
			return 0
		case v < 115:
			return 1
		default:
			return (v - 35) / 40
		}
	}
	qr, qg, qb := to6(r), to6(g), to6(b)
	cr, cg, cb := cubeLevels[qr], cubeLevels[qg], cubeLevels[qb]
	cube := 16 + 36*qr + 6*qg + qb
	if cr == r && cg == g && cb == b {
		return cube
	}
	avg := (r + g + b) / 3
	gi := 23
	if avg <= 238 {
		gi = max(avg-3, 0) / 10
	}
	grey := 8 + 10*gi
	dist := func(x, y, z int) int { return (x-r)*(x-r) + (y-g)*(y-g) + (z-b)*(z-b) }
	if dist(grey, grey, grey) < dist(cr, cg, cb) {
		return 232 + gi
	}
	return cube
}
