package main

import (
	"flag"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// linesValue is what -n, --lines and --tail say, read as GNU tail reads
// -n: N or -N the last N lines, +N from line N on (+0 as +1). --tail is
// kubectl's name, where -1 means every line (from line 1), and where other
// negative numbers are refused.
type linesValue struct {
	n        int
	fromLine int    // +N: the first line printed (1 or more); 0: the last n lines
	flag     string // the flag and value as the user wrote them ("-n +5"), "" when not given
	err      error
}

// linesFlag is one name of linesValue on the command line.
type linesFlag struct {
	v       *linesValue
	name    string // "-n", "--lines", "--tail"
	kubectl bool   // --tail: -1 is every line
}

func (f linesFlag) String() string { return "" }

// Set reads a value; a bad one is reported after parsing (check), in the
// command line's words rather than the flag package's.
func (f linesFlag) Set(s string) error {
	given := f.name + " " + s
	if f.v.flag != "" && f.v.flag != given && f.v.err == nil {
		f.v.err = fmt.Errorf("%s and %s: give one", f.v.flag, given)
		return nil
	}
	f.v.flag = given
	if f.v.err != nil {
		return nil
	}
	if f.kubectl && s == "-1" {
		f.v.n, f.v.fromLine = 0, 1
		return nil
	}
	digits, from := strings.CutPrefix(s, "+")
	if !from && !f.kubectl {
		digits = strings.TrimPrefix(s, "-") // tail -n -5 is -n 5
	}
	n, err := strconv.ParseUint(digits, 10, 63)
	switch {
	case err != nil || digits == "" || digits[0] == '+' || digits[0] == '-':
		want := "N (the last N lines) or +N (from line N on)"
		if f.kubectl {
			want += ", or -1 (every line)"
		}
		f.v.err = fmt.Errorf("%s: want %s", given, want)
	case n > math.MaxInt32:
		f.v.err = fmt.Errorf("%s: too many lines (at most %d)", given, math.MaxInt32)
	case from:
		f.v.n, f.v.fromLine = 0, max(int(n), 1)
	default:
		f.v.n, f.v.fromLine = int(n), 0
	}
	return nil
}

// oldLines is tail's old syntax for -n: -N, and -Nf for -n N -f;
// attachedLines is -n with its number attached, as getopt takes it (-n+5).
var (
	oldLines      = regexp.MustCompile(`^-([0-9]+)(f?)$`)
	attachedLines = regexp.MustCompile(`^-n([+-]?[0-9]+)$`)
)

// oldSyntax rewrites tail's old forms of -n into flags: -5 (anywhere a
// flag may be) is -n 5, -5f is -n 5 -f, and +5 as the first argument (as
// GNU tail takes it) is -n +5; -n5 and -n+5 are -n 5 and -n +5. The values of flags are left alone (-n -5,
// --include -5), as is everything after "--".
func oldSyntax(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args)+2)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if m := oldLines.FindStringSubmatch(a); m != nil {
			out = append(out, "-n", m[1])
			if m[2] != "" {
				out = append(out, "-f")
			}
			continue
		}
		if m := attachedLines.FindStringSubmatch(a); m != nil {
			out = append(out, "-n", m[1])
			continue
		}
		if i == 0 && len(a) > 1 && a[0] == '+' && strings.Trim(a[1:], "0123456789") == "" {
			out = append(out, "-n", a)
			continue
		}
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		if takesValue(fs, a) && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		}
	}
	return out
}

// takesValue reports whether a is a flag, without "=value", whose value is
// the next argument.
func takesValue(fs *flag.FlagSet, a string) bool {
	name, ok := strings.CutPrefix(a, "-")
	if !ok || name == "" || name == "-" {
		return false
	}
	name = strings.TrimPrefix(name, "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, isBool := f.Value.(interface{ IsBoolFlag() bool })
	return !isBool || !b.IsBoolFlag()
}
