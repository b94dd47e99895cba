package tailer

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxSiblings bounds a directory scan for the generations of a file.
const maxSiblings = 10000

// compressed are the suffixes of rotated files that cannot be read as text.
var compressed = []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".z", ".Z", ".zip", ".br"}

// rotationOf reports whether name (in the same directory) is a name that
// rotation tools give to the earlier generations of base, and whether it is
// compressed. Tools name them:
//
//	app.log.1, app.log.2 …           logrotate, Python's RotatingFileHandler, log4j
//	app.log-20261204, app.log.2026-12-04_15-50   logrotate dateext, TimedRotatingFileHandler
//	app-2026-12-04T15-50-03.000.log  lumberjack (Go), and logrotate's "extension .log"
//
// that is base or its stem (base without its extension), then '.', '-' or
// '_', then a digit, and for the stem the extension again; any of them may
// end in a compression suffix.
func rotationOf(base, name string) (ok, packed bool) {
	for _, c := range compressed {
		if s, found := strings.CutSuffix(name, c); found {
			name, packed = s, true
			break
		}
	}
	if follows(name, base) {
		return true, packed
	}
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if ext == "" || stem == "" {
		return false, false
	}
	if rest, found := strings.CutSuffix(name, ext); found && follows(rest, stem) {
		return true, packed
	}
	return false, false
}

// follows reports whether name is prefix, a separator and a digit, then anything.
func follows(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || len(rest) < 2 {
		return false
	}
	return strings.IndexByte(".-_", rest[0]) >= 0 && rest[1] >= '0' && rest[1] <= '9'
}

// olderName orders two names of base's generations when their files' times
// tie: base itself is the newest; numbered generations (app.log.1 newest) by
// their number, descending; other names (dates, timestamps, counters) in
// natural order, ascending.
func olderName(base, a, b string) int {
	switch { // the name itself holds the newest
	case a == b:
		return 0
	case a == base:
		return 1
	case b == base:
		return -1
	}
	na, oka := rotationNumber(base, a)
	nb, okb := rotationNumber(base, b)
	if oka && okb {
		return cmp.Compare(nb, na)
	}
	return naturalCompare(a, b)
}

// rotationNumber reads the N of base.N.
func rotationNumber(base, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, base+".")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

// naturalCompare compares strings with runs of digits compared as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, _ := strconv.ParseUint(strings.TrimLeft(a[:da], "0")+"0", 10, 64)
			nb, _ := strconv.ParseUint(strings.TrimLeft(b[:db], "0")+"0", 10, 64)
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// sibling is a file found in the followed name's directory.
type sibling struct {
	path   string
	stat   fileStat
	packed bool // compressed: cannot be read
}

// siblings lists the followed name's rotated generations present in its
// directory (not the name itself), by a stat of each: no file is opened.
func siblings(name string) []sibling {
	dir, base := filepath.Split(name)
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(maxSiblings)
	var out []sibling
	for _, n := range names {
		ok, packed := rotationOf(base, n)
		if !ok {
			continue
		}
		p := filepath.Join(dir, n)
		var st fileStat
		st, err = statPath(p)
		if err != nil || !st.regular {
			continue
		}
		out = append(out, sibling{path: p, stat: st, packed: packed})
	}
	return out
}

// olderGen orders generations by when they were created: by birth time
// where there is one, else by modification time; ties (timestamps are
// coarse, a burst of rotations shares one) by their rotation names, then
// their inodes.
func olderGen(base string, a, b sibling) int {
	if a.stat.born != 0 && b.stat.born != 0 {
		if c := cmp.Compare(a.stat.born, b.stat.born); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.stat.mtime, b.stat.mtime); c != 0 {
		return c
	}
	if c := olderName(base, filepath.Base(a.path), filepath.Base(b.path)); c != 0 {
		return c
	}
	return cmp.Compare(a.stat.id.ino, b.stat.id.ino)
}

// sortGens sorts generations oldest first.
func sortGens(name string, gens []sibling) {
	base := filepath.Base(name)
	slices.SortStableFunc(gens, func(a, b sibling) int { return olderGen(base, a, b) })
}

// RotationOf reports whether name (a file name, no directory) is one of
// base's rotated generations (see rotationOf) and whether it is compressed:
// a stream of many files reads those as base's generations, not as files of
// their own.
func RotationOf(base, name string) (rotated, packed bool) { return rotationOf(base, name) }

// Packed reports whether name ends in a compression suffix (.gz, .bz2, …):
// not lines to follow.
func Packed(name string) bool {
	for _, c := range compressed {
		if strings.HasSuffix(name, c) {
			return true
		}
	}
	return false
}
