package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/render"
)

// TestMerged: several URLs are merged, each line prefixed with its source.
func TestMerged(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "a.log", "a1\na2\na3\n")
	d.write(t, "bb.log", "b1\nb2\n")
	ua, ub := d.url("a.log"), d.url("bb.log")
	sa, sb := strings.TrimPrefix(ua, "ws://"), strings.TrimPrefix(ub, "ws://")

	tests := []struct {
		name  string
		args  []string
		wantA []string
		wantB []string
	}{
		{"prefixes", []string{ua, ub}, []string{sa + "  | a1", sa + "  | a2", sa + "  | a3"},
			[]string{sb + " | b1", sb + " | b2"}},
		{"colour", []string{"--color=always", ua, "http" + strings.TrimPrefix(ub, "ws")},
			[]string{"\x1b[36m" + sa + " \x1b[0m | a1", "\x1b[36m" + sa + " \x1b[0m | a2", "\x1b[36m" + sa + " \x1b[0m | a3"},
			[]string{"\x1b[33m" + sb + "\x1b[0m | b1", "\x1b[33m" + sb + "\x1b[0m | b2"}},
		{"no prefix", []string{"--no-prefix", ua, ub}, []string{"a1", "a2", "a3"}, []string{"b1", "b2"}},
		{"flags after URLs", []string{ua, ub, "-n", "1", "--no-prefix"}, []string{"a3"}, []string{"b2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, env(), tt.args...)
			if err != nil || stderr != "" {
				t.Fatalf("err %v, stderr %q", err, stderr)
			}
			var gotA, gotB []string
			for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
				if strings.Contains(line[max(0, len(line)-2):], "a") {
					gotA = append(gotA, line)
				} else {
					gotB = append(gotB, line)
				}
			}
			if strings.Join(gotA, "\n") != strings.Join(tt.wantA, "\n") || strings.Join(gotB, "\n") != strings.Join(tt.wantB, "\n") {
				t.Errorf("got:\n%s\nwant (any interleaving):\n%s\n%s", stdout, strings.Join(tt.wantA, "\n"), strings.Join(tt.wantB, "\n"))
			}
		})
	}
}

// TestOneSourceNoColour: one URL has no prefix, and --color=auto adds no
// colour to a pipe; the log's own codes pass through.
func TestOneSourceNoColour(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "c.log", "\x1b[31mred\x1b[0m\n")
	for _, color := range []string{"auto", "always", "never"} {
		stdout, _, err := runCLI(t, env(), "--color="+color, d.url("c.log"))
		if err != nil || stdout != "\x1b[31mred\x1b[0m\n" {
			t.Errorf("--color=%s: err %v, stdout %q", color, err, stdout)
		}
	}
}

// TestStripANSI: --strip-ansi removes the log's own escape codes.
func TestStripANSI(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "m.log", mixed)
	stdout, _, err := runCLI(t, env(), "--strip-ansi", "-n", "100", d.url("m.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := string(render.StripANSI(nil, []byte(mixed)))
	if stdout != want || strings.Contains(stdout, "\x1b") {
		t.Errorf("got %q\nwant %q", stdout, want)
	}
}

// TestStripControls: with --strip-ansi a line cannot overwrite what is
// shown (a lone CR, BS) nor drive the terminal with C1 controls (U+009B CSI,
// U+009D OSC), in text and json output; without it every byte is the file's.
func TestStripControls(t *testing.T) {
	const content = "innocent\rEVIL\n" +
		"back\b\b\b\bEVIL\n" +
		"c1 \u009b2J\u009b31mred\u009b0m \u009d0;title\u009c end\n" +
		"raw c1 \x9b31m\n" + // not UTF-8: the daemon sends U+FFFD
		"shift out \x0e\x07 bell\n" +
		"tab\tand crlf\r\n" +
		"last\rX"
	const want = "innocentEVIL\n" +
		"backEVIL\n" +
		"c1 red  end\n" +
		"raw c1 \ufffd31m\n" +
		"shift out  bell\n" +
		"tab\tand crlf\r\n" +
		"lastX"
	d := startDaemon(t, "", "")
	d.write(t, "c.log", content)

	stdout, _, err := runCLI(t, env(), "--strip-ansi", "-n", "100", d.url("c.log"))
	if err != nil {
		t.Fatal(err)
	}
	if stdout != want {
		t.Errorf("--strip-ansi: got %q\nwant %q", stdout, want)
	}

	stdout, _, err = runCLI(t, env(), "--strip-ansi", "-o", "json", "-n", "100", d.url("c.log"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for raw := range strings.Lines(stdout) {
		var l jsonLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		lines = append(lines, l.Line)
	}
	if got := strings.Join(lines, "\n"); got != want {
		t.Errorf("--strip-ansi -o json: got %q\nwant %q", got, want)
	}

	stdout, _, err = runCLI(t, env(), "-n", "100", d.url("c.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(content, "raw c1 \x9b", "raw c1 \ufffd", 1); stdout != want {
		t.Errorf("without --strip-ansi: got %q\nwant the file's bytes %q", stdout, want)
	}
}

// TestOutputClosed: when stdout fails, logtail stops every stream and says so.
func TestOutputClosed(t *testing.T) {
	d := startDaemon(t, "", "")
	d.write(t, "o.log", "x\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	err := run(ctx, []string{"-f", d.url("o.log"), d.url("o.log")}, env(), nil, failWriter{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "writing output") || ctx.Err() != nil {
		t.Errorf("err %v, stderr %q", err, stderr.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }
