package sandbox

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// IsPattern reports whether name (from Name) asks for many files by
// wildcards: one of its elements holds a '*'. Such an element is a
// filepath.Match pattern; the others are taken as written.
func IsPattern(name string) bool { return strings.ContainsRune(name, '*') }

// IsDir reports whether name (from Name) resolves, inside the roots, to a
// directory: a stream of the files in it.
func (s *Sandbox) IsDir(name string) bool {
	if !s.allowed(name) {
		return false
	}
	_, fi, err := s.resolve(name)
	return err == nil && fi.IsDir()
}

// Glob lists the regular files that name matches (from Name: a pattern, or
// a directory, which stands for DIR/*), sorted, as names under name's own
// prefix (wildcards resolved). Each is checked as Open checks a single file:
// a match whose symlinks lead out of the roots, or that is not a regular
// file, is left out, as are names starting with '.' unless the pattern's
// element starts with one (as a shell does). At most limit+1 are returned,
// so that a caller can tell that there are more than limit.
//
// The directory before the first wildcard must resolve inside the roots: else
// a refusal (*Error, 403 or 404), as for a file. A pattern that matches
// nothing is no error.
func (s *Sandbox) Glob(name string, limit int) ([]string, error) {
	return s.GlobKnown(name, limit, nil)
}

// GlobKnown is Glob for a caller that lists the same pattern again and
// again: a match known says it took before is listed without being checked
// again (its opens are checked, as every open is).
func (s *Sandbox) GlobKnown(name string, limit int, known func(string) bool) ([]string, error) {
	if name == "" || !filepath.IsAbs(name) || filepath.Clean(name) != name {
		return nil, refuse(http.StatusBadRequest, "path is not clean and absolute", nil)
	}
	if !s.allowed(name) {
		return nil, refuse(http.StatusForbidden, reasonEscapes, nil)
	}
	pattern := name
	if !IsPattern(name) {
		pattern = filepath.Join(name, "*")
	}
	elems := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	first := slices.IndexFunc(elems, func(e string) bool { return strings.ContainsRune(e, '*') })
	base := "/" + filepath.Join(elems[:first]...)
	if !s.allowed(base) {
		return nil, refuse(http.StatusForbidden, reasonEscapes, nil)
	}
	if _, fi, err := s.resolve(base); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, refuse(http.StatusNotFound, "no such directory", nil)
	}
	var out []string
	var walk func(dir string, rest []string)
	walk = func(dir string, rest []string) {
		if len(out) > limit {
			return
		}
		elem, last := rest[0], len(rest) == 1
		var cands []string
		if strings.ContainsRune(elem, '*') {
			if _, err := filepath.Match(elem, ""); err != nil {
				return // a malformed pattern matches nothing
			}
			real, _, err := s.resolve(dir)
			if err != nil {
				return
			}
			d, err := os.Open(real)
			if err != nil {
				return
			}
			names, _ := d.Readdirnames(-1)
			d.Close()
			slices.Sort(names)
			for _, n := range names {
				if strings.HasPrefix(n, ".") && !strings.HasPrefix(elem, ".") {
					continue
				}
				if ok, _ := filepath.Match(elem, n); ok {
					cands = append(cands, n)
				}
			}
		} else {
			cands = []string{elem}
		}
		for _, n := range cands {
			p := filepath.Join(dir, n)
			if last && known != nil && known(p) {
				out = append(out, p)
				continue
			}
			if !s.allowed(p) {
				continue
			}
			_, fi, err := s.resolve(p)
			if err != nil {
				continue // outside the roots, gone, unreadable: not a match
			}
			switch {
			case last && fi.Mode().IsRegular():
				out = append(out, p)
			case !last && fi.IsDir():
				walk(p, rest[1:])
			}
			if len(out) > limit {
				return
			}
		}
	}
	walk(base, elems[first:])
	return out, nil
}
