package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"testing"
)

// mixed is a log as a terminal shows it: colours, CRLF, Unicode, tabs, a
// hyperlink, an empty line.
const mixed = "plain first line\n" +
	"\x1b[1;31mERROR\x1b[0m something \x1b[38;5;208mbroke\x1b[0m\n" +
	"windows line\r\n" +
	"unicode: héllo wörld ✓ 日本語 🚀\n" +
	"\ttabbed\tline\n" +
	"\x1b]8;;https://example.com\x1b\\a link\x1b]8;;\x1b\\\n" +
	"\n" +
	"after an empty line\r\n" +
	"second to last\n"

// TestLastLinesLikeTail: logtail -n N URL prints what tail -n N FILE prints,
// byte for byte.
func TestLastLinesLikeTail(t *testing.T) {
	d := startDaemon(t, "", "")
	files := map[string]string{
		"no-final-newline.log": mixed + "last line without newline \x1b[32mgreen",
		"final-newline.log":    mixed + "last line\n",
		"short.log":            "one\ntwo\n",
		"empty.log":            "",
		"only-partial.log":     "no newline at all",
		"crlf-partial.log":     "a\r\nb\r\nc\r",
	}
	for name, content := range files {
		path := d.write(t, name, content)
		for _, n := range []int{0, 1, 5, 100} {
			t.Run(fmt.Sprintf("%s/n=%d", name, n), func(t *testing.T) {
				want, err := exec.Command("tail", "-n", strconv.Itoa(n), path).Output()
				if err != nil {
					t.Fatal(err)
				}
				stdout, stderr, err := runCLI(t, env(), "-n", strconv.Itoa(n), d.url(name))
				if err != nil || stderr != "" {
					t.Fatalf("err %v, stderr %q", err, stderr)
				}
				if stdout != string(want) {
					t.Errorf("logtail -n %d:\n%q\ntail -n %d:\n%q", n, stdout, n, want)
				}
			})
		}
	}
}
