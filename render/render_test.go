package render

import (
	"bytes"
	"fmt"
	"html"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	terminal "github.com/buildkite/terminal-to-html/v3"
)

func TestAppendHTML(t *testing.T) {
	long := strings.Repeat("0123456789abcdef<>", 200_000/18)
	tests := []struct {
		name  string
		lines []string // rendered in order by one Stream; the last one is checked
		want  string   // exact output of the last line, if not ""
		has   []string // substrings the output must hold
		hasNo []string // substrings it must not hold
	}{
		{name: "plain", lines: []string{"hello world"}, want: "hello world"},
		{name: "empty", lines: []string{""}, want: ""},
		{name: "script", lines: []string{"<script>alert(1)</script>"},
			want: "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{name: "img onerror", lines: []string{"<img src=x onerror=alert(1)>"},
			want: "&lt;img src=x onerror=alert(1)&gt;"},
		{name: "quotes", lines: []string{`a "b" 'c'`}, want: "a &quot;b&quot; &#39;c&#39;"},
		{name: "amp literal", lines: []string{"&amp;"}, want: "&amp;amp;"},
		{name: "script in colour", lines: []string{"\x1b[31m<script>alert(1)</script>"},
			want: `<span class="term-fg31">&lt;script&gt;alert(1)&lt;&#47;script&gt;</span>`},
		{name: "colour in one line", lines: []string{"ok \x1b[31merror\x1b[0m done"},
			want: `ok <span class="term-fg31">error</span> done`},
		{name: "colour spans two lines", lines: []string{"\x1b[31merror starts", "still red\x1b[0m"},
			want: `<span class="term-fg31">still red</span>`},
		{name: "colour spans two lines, second plain", lines: []string{"\x1b[31merror starts", "still red"},
			want: `<span class="term-fg31">still red</span>`},
		{name: "reset ends the span", lines: []string{"\x1b[31merror starts", "still red\x1b[0m", "normal"},
			want: "normal"},
		{name: "reset with ESC[m", lines: []string{"\x1b[32mgreen\x1b[m", "normal"}, want: "normal"},
		{name: "reset mid line", lines: []string{"\x1b[31mred", "red\x1b[0m plain"},
			want: `<span class="term-fg31">red</span> plain`},
		{name: "bold and colour", lines: []string{"\x1b[1;32mbold green"},
			want: `<span class="term-fg32 term-fg1">bold green</span>`},
		{name: "bold then colour", lines: []string{"\x1b[1m\x1b[34mbold blue"},
			want: `<span class="term-fg34 term-fg1">bold blue</span>`},
		{name: "bright and background", lines: []string{"\x1b[91;104mx"},
			want: `<span class="term-fgi91 term-bgi104">x</span>`},
		{name: "256 colour", lines: []string{"\x1b[38;5;123mx\x1b[48;5;200my"},
			want: `<span class="term-fgx123">x</span><span class="term-fgx123 term-bgx200">y</span>`},
		{name: "256 colour colon form", lines: []string{"\x1b[38:5:123mx"},
			want: `<span class="term-fgx123">x</span>`},
		{name: "24-bit colour", lines: []string{"\x1b[38;2;255;0;0mred\x1b[48;2;0;0;255mon blue"},
			want: `<span class="term-fgx196">red</span><span class="term-fgx196 term-bgx21">on blue</span>`},
		{name: "24-bit colour colon form with colour space", lines: []string{"\x1b[38:2::128:128:128mgrey"},
			want: `<span class="term-fgx244">grey</span>`},
		{name: "attributes", lines: []string{"\x1b[2;3;4;5;9mx\x1b[22;23;24;25;29my"},
			want: `<span class="term-fg2 term-fg3 term-fg4 term-fg5 term-fg9">x</span>y`},
		{name: "inverse ignored", lines: []string{"\x1b[7mx"}, want: "x"},
		{name: "default fg keeps bg", lines: []string{"\x1b[31;42mx\x1b[39my"},
			want: `<span class="term-fg31 term-bg42">x</span><span class="term-bg42">y</span>`},
		{name: "OSC 8 javascript", lines: []string{"\x1b]8;;javascript:alert(1)\x1b\\click\x1b]8;;\x1b\\ here"},
			want: "click here"},
		{name: "OSC 8 data BEL", lines: []string{"\x1b]8;;data:text/html,<script>alert(1)</script>\x07click\x1b]8;;\x07"},
			want: "click"},
		{name: "OSC 8 vbscript in colour", lines: []string{"\x1b[31m\x1b]8;;vbscript:msgbox\x07click\x1b]8;;\x07"},
			want: `<span class="term-fg31">click</span>`, hasNo: []string{"<a", "vbscript"}},
		{name: "OSC 1339 link", lines: []string{"\x1b]1339;url=javascript:alert(1);content=x\x07y"}, want: "y"},
		{name: "OSC 1337 image", lines: []string{"\x1b]1337;File=name=MS5naWY=;inline=1:AA==\x07y"}, want: "y"},
		{name: "unterminated OSC drops rest of line", lines: []string{"before\x1b]8;;http://example.com/ click"},
			want: "before"},
		{name: "line after unterminated OSC renders", lines: []string{"\x1b[33mbefore\x1b]0;title", "next <b>"},
			want: `<span class="term-fg33">next &lt;b&gt;</span>`},
		{name: "OSC cut by a new escape", lines: []string{"\x1b]0;title\x1b[31mred"},
			want: `<span class="term-fg31">red</span>`},
		{name: "APC timestamp stripped", lines: []string{"\x1b_bk;t=123\x07hello"}, want: "hello"},
		{name: "APC with ST", lines: []string{"a\x1b_bk;t=123\x1b\\b"}, want: "ab"},
		{name: "DCS PM SOS stripped", lines: []string{"a\x1bPq#0\x1b\\b\x1b^pm\x07c\x1bXsos\x1b\\d"}, want: "abcd"},
		{name: "cursor movement stripped", lines: []string{"abc\x1b[2K\x1b[1Gxy\x1b[H\x1b[Bz\x1b[?25l"}, want: "abcxyz"},
		{name: "charset select stripped", lines: []string{"\x1b(Bx\x1b)0y\x1b=\x1b7z"}, want: "xyz"},
		{name: "lone ESC", lines: []string{"a\x1b\x01b\x1b"}, want: "a\uFFFDb"},
		{name: "malformed CSI", lines: []string{"a\x1b[31\x01b"}, want: "a\uFFFDb"},
		{name: "invalid UTF-8", lines: []string{"a\xff\xfeb"}, want: "a\uFFFD\uFFFDb"},
		{name: "invalid UTF-8 in colour", lines: []string{"\x1b[31ma\xff\xfeb"},
			want: `<span class="term-fg31">a` + "\uFFFD\uFFFD" + `b</span>`},
		{name: "valid UTF-8 kept", lines: []string{"größe 日本 \uFFFD"}, want: "größe 日本 \uFFFD"},
		{name: "NUL", lines: []string{"a\x00b"}, want: "a\uFFFDb"},
		{name: "NUL in colour", lines: []string{"\x1b[31ma\x00b"}, want: `<span class="term-fg31">a` + "\uFFFD" + `b</span>`},
		{name: "controls", lines: []string{"a\tb\bc\rd\x7fe\u0085f\ng"},
			want: "a\tb\uFFFDc\uFFFDd\uFFFDe\uFFFDf\uFFFDg"},
		{name: "CRLF", lines: []string{"line\r"}, want: "line"},
		{name: "CRLF in colour", lines: []string{"\x1b[31mline\r"}, want: `<span class="term-fg31">line</span>`},
		{name: "trailing blanks kept", lines: []string{"\x1b[31mx\x1b[0m  \t"}, want: `<span class="term-fg31">x</span>  ` + "\t"},
		{name: "blank coloured line", lines: []string{"\x1b[0m   "}, want: "   "},
		{name: "only escapes", lines: []string{"\x1b[31m\x1b[0m"}, want: ""},
		{name: "200 kB line", lines: []string{long}, want: strings.ReplaceAll(strings.ReplaceAll(long, "<", "&lt;"), ">", "&gt;")},
		{name: "200 kB coloured line", lines: []string{"\x1b[32m" + long},
			want: `<span class="term-fg32">` + strings.ReplaceAll(strings.ReplaceAll(long, "<", "&lt;"), ">", "&gt;") + `</span>`},
		{name: "200 kB line carried colour", lines: []string{"\x1b[32m", long},
			want: `<span class="term-fg32">` + strings.ReplaceAll(strings.ReplaceAll(long, "<", "&lt;"), ">", "&gt;") + `</span>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Stream
			var got []byte
			for _, l := range tt.lines {
				got = s.AppendHTML(got[:0], []byte(l))
				checkHTML(t, []byte(l), got)
			}
			if tt.want != "" || len(tt.has) == 0 && len(tt.hasNo) == 0 {
				if string(got) != tt.want {
					t.Errorf("got  %.300q\nwant %.300q", got, tt.want)
				}
			}
			for _, h := range tt.has {
				if !bytes.Contains(got, []byte(h)) {
					t.Errorf("output %.300q lacks %q", got, h)
				}
			}
			for _, h := range append(tt.hasNo, "<a", "javascript:", "data:", "<img", "<time", "style=") {
				if bytes.Contains(got, []byte(h)) {
					t.Errorf("output %.300q holds %q", got, h)
				}
			}
		})
	}
}

func TestAppendHTMLAppends(t *testing.T) {
	var s Stream
	dst := []byte("prefix|")
	dst = s.AppendHTML(dst, []byte("\x1b[31mred"))
	dst = append(dst, '|')
	dst = s.AppendHTML(dst, []byte("<"))
	if want := `prefix|<span class="term-fg31">red</span>|<span class="term-fg31">&lt;</span>`; string(dst) != want {
		t.Errorf("got %q, want %q", dst, want)
	}
}

func TestReset(t *testing.T) {
	var s Stream
	s.AppendHTML(nil, []byte("\x1b[31mred"))
	s.Reset()
	if got := s.AppendHTML(nil, []byte("plain")); string(got) != "plain" {
		t.Errorf("after Reset: %q", got)
	}
}

// tagRE matches the only markup the renderer may emit.
var tagRE = regexp.MustCompile(`^(?:<span class="term-(?:fg|fgi|fgx|bg|bgi|bgx)[0-9]{1,3}(?: term-(?:fg|fgi|fgx|bg|bgi|bgx)[0-9]{1,3})*">|</span>)`)

var entityRE = regexp.MustCompile(`^&(?:lt|gt|amp|quot|#39|#47);`)

// checkHTML checks the properties every output of AppendHTML must have: valid UTF-8, no
// newline, only balanced <span> tags with known classes, only known entities, and, once tags are
// removed and entities decoded, exactly the sanitised text of the input.
func checkHTML(t testing.TB, line, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("invalid UTF-8 in %.300q", out)
	}
	if bytes.IndexByte(out, '\n') >= 0 {
		t.Fatalf("newline in %.300q", out)
	}
	var text []byte
	depth := 0
	for i := 0; i < len(out); {
		switch out[i] {
		case '<':
			m := tagRE.Find(out[i:])
			if m == nil {
				t.Fatalf("unexpected markup at %d in %.300q", i, out)
			}
			if m[1] == '/' {
				depth--
			} else {
				depth++
			}
			if depth < 0 || depth > 1 {
				t.Fatalf("unbalanced or nested span at %d in %.300q", i, out)
			}
			i += len(m)
		case '>', '"', '\'':
			t.Fatalf("unescaped %q at %d in %.300q", out[i], i, out)
		case '&':
			m := entityRE.Find(out[i:])
			if m == nil {
				t.Fatalf("unexpected entity at %d in %.300q", i, out)
			}
			text = append(text, html.UnescapeString(string(m))...)
			i += len(m)
		default:
			text = append(text, out[i])
			i++
		}
	}
	if depth != 0 {
		t.Fatalf("unclosed span in %.300q", out)
	}
	if want := sanitisedText(line); !bytes.Equal(text, want) {
		t.Fatalf("text of %.300q\nis   %.300q\nwant %.300q", out, text, want)
	}
}

// sanitisedText is the text AppendHTML must show for line: the text between escape sequences,
// with invalid UTF-8 and controls replaced.
func sanitisedText(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	var out []byte
	for {
		i := bytes.IndexByte(line, esc)
		if i < 0 {
			return appendText(out, line, false)
		}
		out = appendText(out, line[:i], false)
		end, _ := scanEscape(line, i)
		line = line[end:]
	}
}

// TestClassesMatchLibrary checks that the span this package writes itself for carried state is
// the one terminal-to-html writes for the same state.
func TestClassesMatchLibrary(t *testing.T) {
	var states []style
	for _, fg := range allFG() {
		states = append(states, style{fg: fg})
	}
	for _, bg := range allBG() {
		states = append(states, style{bg: bg})
	}
	for a := range uint8(1 << len(attrCodes)) {
		if a&attrBold != 0 && a&attrFaint != 0 {
			continue // exclusive, as in terminal-to-html
		}
		states = append(states, style{attrs: a})
	}
	r := rand.New(rand.NewPCG(1, 2))
	fgs, bgs := allFG(), allBG()
	for range 2000 {
		st := style{fg: fgs[r.IntN(len(fgs))], bg: bgs[r.IntN(len(bgs))], attrs: uint8(r.IntN(1 << len(attrCodes)))}
		if st.attrs&attrBold != 0 {
			st.attrs &^= attrFaint
		}
		states = append(states, st)
	}
	for _, st := range states {
		want := terminal.Render(append(st.appendSGR(nil), 'x'))
		s := Stream{st: st}
		if got := s.AppendHTML(nil, []byte("x")); string(got) != want {
			t.Errorf("state %+v: got %q, library %q", st, got, want)
		}
	}
}

func allFG() []uint16 {
	fg := []uint16{0}
	for c := uint16(30); c <= 37; c++ {
		fg = append(fg, c, c+60)
	}
	for n := range uint16(256) {
		fg = append(fg, xterm+n)
	}
	return fg
}

func allBG() []uint16 {
	bg := []uint16{0}
	for c := uint16(40); c <= 47; c++ {
		bg = append(bg, c, c+60)
	}
	for n := range uint16(256) {
		bg = append(bg, xterm+n)
	}
	return bg
}

// TestSGRMatchesLibrary feeds random SGR sequences that terminal-to-html and this package
// interpret alike to both, and compares the HTML.
func TestSGRMatchesLibrary(t *testing.T) {
	codes := []string{"0", "1", "2", "3", "4", "5", "9", "22", "23", "24", "25", "29", "39", "49", "38;5;7", "48;5;250", "38;5;16"}
	for c := 30; c <= 37; c++ {
		codes = append(codes, fmt.Sprint(c), fmt.Sprint(c+10), fmt.Sprint(c+60), fmt.Sprint(c+70))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		var line []byte
		for range 1 + r.IntN(5) {
			line = append(line, "\x1b["...)
			for k := range 1 + r.IntN(4) {
				if k > 0 {
					line = append(line, ';')
				}
				line = append(line, codes[r.IntN(len(codes))]...)
			}
			line = append(line, 'm')
			line = append(line, "ab"[:1+r.IntN(2)]...)
		}
		var s Stream
		got := s.AppendHTML(nil, line)
		if want := terminal.Render(line); string(got) != want {
			t.Errorf("%q: got %q, library %q", line, got, want)
		}
	}
}

func TestRGBToXterm(t *testing.T) {
	tests := []struct{ r, g, b, want int }{
		{0, 0, 0, 16}, {255, 255, 255, 231}, {255, 0, 0, 196}, {0, 0, 255, 21},
		{0x5f, 0x87, 0xaf, 67}, {128, 128, 128, 244}, {8, 8, 8, 232}, {238, 238, 238, 255},
		{250, 250, 250, 231}, {1, 2, 3, 16}, {100, 0, 0, 52},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.r, tt.g, tt.b), func(t *testing.T) {
			if got := rgbToXterm(tt.r, tt.g, tt.b); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestCSSCoversClasses checks that CSS has a rule for every class AppendHTML can emit.
func TestCSSCoversClasses(t *testing.T) {
	var classes []string
	add := func(st style) {
		classes = append(classes, strings.Fields(string(st.appendClasses(nil)))...)
	}
	for _, fg := range allFG() {
		add(style{fg: fg})
	}
	for _, bg := range allBG() {
		add(style{bg: bg})
	}
	for _, a := range attrCodes {
		add(style{attrs: a.bit})
	}
	if len(classes) != 2*(16+256)+len(attrCodes) {
		t.Fatalf("%d classes", len(classes))
	}
	css := string(CSS)
	for _, c := range classes {
		if !strings.Contains(css, "."+c+" {") {
			t.Errorf("no rule for .%s", c)
		}
	}
	for _, want := range []string{"prefers-color-scheme: dark", ".theme-dark {", ".theme-light {", ".term-container {"} {
		if !strings.Contains(css, want) {
			t.Errorf("CSS lacks %q", want)
		}
	}
}

func TestStripANSI(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "hello", "hello"},
		{"SGR", "\x1b[1;31mred\x1b[0m", "red"},
		{"CSI", "a\x1b[2K\x1b[?25lb\x1b[1;1H", "ab"},
		{"OSC BEL", "\x1b]0;title\x07x", "x"},
		{"OSC ST", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"unterminated OSC", "a\x1b]0;title", "a"},
		{"APC", "\x1b_bk;t=123\x07x", "x"},
		{"DCS", "\x1bPq\x1b\\x", "x"},
		{"charset", "\x1b(Bx\x1b)0", "x"},
		{"lone ESC", "a\x1b", "a"},
		{"ESC ESC", "a\x1b\x1b[31mb", "ab"},
		{"others kept", "\x00\xff\r", "\x00\xff\r"},
		{"unterminated CSI", "a\x1b[31", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripANSI(nil, []byte(tt.in)); string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

var fuzzSeeds = []string{
	"", "plain", "<script>alert(1)</script>", "\x1b[31merror starts\nstill red\x1b[0m\nplain",
	"\x1b]8;;javascript:alert(1)\x07x\x1b]8;;\x07", "\x1b]1337;File=name=MS5naWY=;inline=1:AA==\x07",
	"\x1b]1338;url=http://x/a.png;alt=x\x07", "\x1b]1339;url=http://x;content=y\x07",
	"\x1b_bk;t=123\x07x", "a\x1b]0;t\nb", "\x1b[38;2;1;2;3;48:2::4:5:6mx", "\xff\xfe\x00\r\n",
	"\x1b[1;2;3;4;5;9;38;5;300;48;5mx\x1b[Hy\x1b[Bz\x1b[10Cw\x1b[2Jq", "\x1b(0lqk\x1b(B",
	"\x1b[31m   \x1b[0m  ", "&amp;&lt;\"'/", "a\bb\rc",
}

func FuzzAppendHTML(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Stream
		var out []byte
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			out = s.AppendHTML(out[:0], line)
			checkHTML(t, line, out)
		}
	})
}

func FuzzStripANSI(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		stripped := StripANSI(nil, data)
		if bytes.IndexByte(stripped, esc) >= 0 {
			t.Fatalf("StripANSI(%q) = %q holds ESC", data, stripped)
		}
	})
}

func ExampleStream_AppendHTML() {
	var s Stream // one per followed file
	var out []byte
	for _, line := range []string{
		"\x1b[1;31merror:\x1b[22m <disk> full",
		"still red\x1b[0m, then plain",
		"\x1b]8;;javascript:alert(1)\x07not a link\x1b]8;;\x07",
	} {
		out = s.AppendHTML(out[:0], []byte(line))
		fmt.Println(string(out))
	}
	// Output:
	// <span class="term-fg31 term-fg1">error:</span><span class="term-fg31"> &lt;disk&gt; full</span>
	// <span class="term-fg31">still red</span>, then plain
	// not a link
}

func benchLines(n, colourEvery int) ([][]byte, int) {
	r := rand.New(rand.NewPCG(5, 6))
	lines := make([][]byte, n)
	total := 0
	for i := range lines {
		var l []byte
		if colourEvery > 0 && i%colourEvery == 0 {
			l = fmt.Appendf(l, "\x1b[%dm", 31+r.IntN(6))
		}
		l = fmt.Appendf(l, "2024-05-01T12:00:%02d.%06dZ INFO  request id=%08x path=/api/v1/items status=200 ", i%60, r.IntN(1e6), r.Uint32())
		for len(l) < 100 {
			l = append(l, 'x')
		}
		if colourEvery > 0 && i%colourEvery == 0 {
			l = l[:96]
			l = append(l, "\x1b[0m"...)
		}
		lines[i] = l[:100]
		total += 100
	}
	return lines, total
}

func benchHTML(b *testing.B, colourEvery int) {
	lines, total := benchLines(1000, colourEvery)
	renderLines(b, lines, total)
}

// renderLines renders lines (total bytes) as HTML, once per iteration.
func renderLines(b *testing.B, lines [][]byte, total int) {
	b.SetBytes(int64(total))
	b.ReportAllocs()
	var s Stream
	var out []byte
	for b.Loop() {
		for _, l := range lines {
			out = s.AppendHTML(out[:0], l)
		}
	}
}

func BenchmarkAppendHTMLPlain(b *testing.B)  { benchHTML(b, 0) }
func BenchmarkAppendHTMLColour(b *testing.B) { benchHTML(b, 10) }

// BenchmarkAppendHTMLAllColour renders lines that all carry colour codes, so every line goes
// through terminal-to-html.
func BenchmarkAppendHTMLAllColour(b *testing.B) { benchHTML(b, 1) }

// BenchmarkAppendHTMLLevels is the common coloured log: one line in ten has
// a coloured level word ("ERROR"), the rest of it plain.
func BenchmarkAppendHTMLLevels(b *testing.B) {
	lines, total := benchLines(1000, 0)
	levels := []string{"\x1b[31mERROR\x1b[0m", "\x1b[33mWARN\x1b[0m", "\x1b[1;35mFATAL\x1b[0m"}
	for i := 0; i < len(lines); i += 10 {
		l := append([]byte(levels[i/10%len(levels)]+" "), lines[i]...)
		total += len(l) - len(lines[i])
		lines[i] = l
	}
	renderLines(b, lines, total)
}
