package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Error is a refusal with the HTTP status (400, 403 or 404) and a short
// plain-text reason safe to send to the client.
type Error struct {
	Status int    // http.StatusBadRequest, http.StatusForbidden or http.StatusNotFound
	Reason string // short, for the client; fixed text, never internal detail
	Err    error  // internal cause, may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sandbox: %d %s: %v", e.Status, e.Reason, e.Err)
	}
	return fmt.Sprintf("sandbox: %d %s", e.Status, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

func refuse(status int, reason string, err error) *Error {
	return &Error{Status: status, Reason: reason, Err: err}
}

// Reasons shared by several checks.
const (
	reasonEscapes    = "path escapes the allowed roots"
	reasonNotFound   = "no such file"
	reasonPermission = "permission denied"
	reasonNotRegular = "not a regular file"
)

// Sandbox is safe for concurrent use: its fields are never modified after New,
// and *os.Root is itself safe for concurrent use.
type Sandbox struct {
	paths []string   // resolved absolute roots, no duplicates
	names []string   // names[i] is paths[i] as the operator first named it (absolute, cleaned)
	given []string   // every root as named (absolute, cleaned): its files are served under it too
	roots []*os.Root // roots[i] is opened on paths[i]
}

// New opens each root. A root must exist and be a directory; it is made
// absolute and its symlinks are resolved so that containment checks compare
// real paths. A root named through a symlink serves its files under that
// name as well as under the real one. Duplicate roots are fine. Errors name
// the root.
func New(roots ...string) (*Sandbox, error) {
	if len(roots) == 0 {
		return nil, errors.New("sandbox: no roots given")
	}
	s := &Sandbox{}
	for _, root := range roots {
		abs, real, err := resolveRoot(root)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sandbox: root %q: %w", root, err)
		}
		if !slices.Contains(s.given, abs) {
			s.given = append(s.given, abs)
		}
		if slices.Contains(s.paths, real) {
			continue // duplicate: one handle is enough
		}
		r, err := os.OpenRoot(real)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sandbox: root %q: %w", root, err)
		}
		s.paths = append(s.paths, real)
		s.names = append(s.names, abs)
		s.roots = append(s.roots, r)
	}
	return s, nil
}

// resolveRoot returns root made absolute (the name the operator gave) and
// its real path.
func resolveRoot(root string) (abs, real string, err error) {
	abs, err = filepath.Abs(root)
	if err != nil {
		return "", "", err
	}
	real, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return "", "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", "", err
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("%s is not a directory", real)
	}
	return abs, real, nil
}

// Roots returns the resolved absolute roots.
func (s *Sandbox) Roots() []string {
	return append([]string(nil), s.paths...)
}

// Names returns the roots as the operator named them (made absolute),
// parallel to Roots: Names()[i] is Roots()[i] under the first name given
// for it. Files are served under either.
func (s *Sandbox) Names() []string {
	return append([]string(nil), s.names...)
}

// Close closes the os.Root handles.
func (s *Sandbox) Close() error {
	var errs []error
	for _, r := range s.roots {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// contains reports whether name is root or lies below it. Comparing whole
// path elements keeps root /var/log from allowing /var/logs or /var/log2.
func contains(root, name string) bool {
	if name == root {
		return true
	}
	if !strings.HasSuffix(root, string(filepath.Separator)) { // only "/" ends in one
		root += string(filepath.Separator)
	}
	return strings.HasPrefix(name, root)
}

// allowed reports whether name lies, as written, inside a root under its real
// path or under a name the operator gave it. Symlinks are not looked at.
func (s *Sandbox) allowed(name string) bool {
	return s.rootIndex(name) >= 0 || slices.ContainsFunc(s.given, func(g string) bool { return contains(g, name) })
}

// onTheWay reports whether the real path p may be looked at while resolving
// a name: it lies inside a root, or on the way to one (an ancestor of a root
// or of a name the operator gave it, or that name itself).
func (s *Sandbox) onTheWay(p string) bool {
	if s.rootIndex(p) >= 0 {
		return true
	}
	below := func(r string) bool { return contains(p, r) }
	return slices.ContainsFunc(s.paths, below) || slices.ContainsFunc(s.given, below)
}

// rootIndex returns the index of the innermost root containing name, or -1.
func (s *Sandbox) rootIndex(name string) int {
	best := -1
	for i, p := range s.paths {
		if contains(p, name) && (best < 0 || len(p) > len(s.paths[best])) {
			best = i
		}
	}
	return best
}

// Name checks the escaped URL path (as from (*url.URL).EscapedPath()) and
// returns the cleaned absolute file name it asks for. It is purely syntactic
// and does not touch the file system.
//
// Refusals are *Error with status 400 (malformed: NUL byte, ".." segment,
// double encoding, not absolute, invalid percent-encoding) or 403 (not inside
// any root).
func (s *Sandbox) Name(escapedPath string) (string, error) {
	bad := func(reason string, err error) (string, error) {
		return "", refuse(http.StatusBadRequest, reason, err)
	}
	if strings.IndexByte(escapedPath, 0) >= 0 {
		return bad("NUL byte in path", nil)
	}
	if !strings.HasPrefix(escapedPath, "/") {
		return bad("path is not absolute", nil)
	}
	p, err := url.PathUnescape(escapedPath)
	if err != nil {
		return bad("invalid percent-encoding", err)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return bad("NUL byte in path", nil)
	}
	// A path that a second decode would make climb or hold a NUL is an
	// attempt to smuggle ".." past a careless later decoder; no honest
	// client sends one. Other escapes left after one decode are a file's
	// own name (a%2e.log), as the index links it.
	if smuggles(p) {
		return bad("double-encoded path", nil)
	}
	// Refuse rather than clean away "..": a request that climbs is never
	// legitimate, and refusing it keeps the rules easy to reason about.
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return bad(`".." in path`, nil)
		}
	}
	name := filepath.Clean(p)
	if !s.allowed(name) {
		return "", refuse(http.StatusForbidden, reasonEscapes, nil)
	}
	return name, nil
}

// smuggles reports whether decoding p again, as many times as it changes,
// ever gives a ".." element (between slashes or backslashes) or a NUL.
func smuggles(p string) bool {
	for range len(p) {
		q := unescapeLenient(p)
		if q == p {
			return false
		}
		if strings.IndexByte(q, 0) >= 0 {
			return true
		}
		for _, seg := range strings.FieldsFunc(q, func(r rune) bool { return r == '/' || r == '\\' }) {
			if seg == ".." {
				return true
			}
		}
		p = q
	}
	return false
}

// unescapeLenient decodes every valid %XX in s and keeps the rest as is, the
// way a forgiving decoder would.
func unescapeLenient(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// openFlags never block: a FIFO swapped in for a log file between the look
// at its type and the open must not hang the open, and a terminal must not
// become our controlling tty.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY

// maxLinks bounds the symlinks followed for one name, as the kernel's 40 does.
const maxLinks = 40

// Open resolves name (a cleaned absolute path as returned by Name) on the file
// system and opens it for reading through the os.Root of the root containing
// its real path. Symlinks may point anywhere inside the roots, even into
// another root. It returns the open file, its FileInfo and the real path.
//
// Only a regular file is opened: the type is looked at first (lstat), so a
// FIFO is never opened, which would release a writer blocked on it. What is
// outside the roots is refused with 403 whether it exists or not.
func (s *Sandbox) Open(name string) (f *os.File, fi os.FileInfo, real string, err error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 || !filepath.IsAbs(name) || filepath.Clean(name) != name {
		return nil, nil, "", refuse(http.StatusBadRequest, "path is not clean and absolute", nil)
	}
	if !s.allowed(name) {
		return nil, nil, "", refuse(http.StatusForbidden, reasonEscapes, nil)
	}
	real, lfi, err := s.resolve(name)
	if err != nil {
		return nil, nil, "", err
	}
	if !lfi.Mode().IsRegular() {
		return nil, nil, "", refuse(http.StatusBadRequest, reasonNotRegular, nil)
	}
	i := s.rootIndex(real)
	rel, err := filepath.Rel(s.paths[i], real)
	if err != nil { // cannot happen: resolve returns a path inside paths[i]
		return nil, nil, "", refuse(http.StatusForbidden, reasonEscapes, err)
	}
	// Opening through os.Root closes the window between resolve and open:
	// a symlink swapped in meanwhile still cannot leave the root.
	f, err = s.roots[i].OpenFile(rel, openFlags, 0)
	if err != nil {
		return nil, nil, "", openError(err)
	}
	fi, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, "", refuse(http.StatusForbidden, "cannot stat file", err)
	}
	if !fi.Mode().IsRegular() { // swapped since the lstat
		f.Close()
		return nil, nil, "", refuse(http.StatusBadRequest, reasonNotRegular, nil)
	}
	return f, fi, real, nil
}

// resolve follows name's symlinks one element at a time, as
// filepath.EvalSymlinks does, and returns the real path with the lstat of its
// last element (never a symlink). It never looks at a path off the way to the
// roots (see onTheWay): such an element is refused as an escape before it is
// looked at, so whatever lies outside the roots, there or not, readable or
// not, a directory or not, gets the same 403 and the daemon tells nothing
// about the rest of the file system.
func (s *Sandbox) resolve(name string) (string, fs.FileInfo, error) {
	resolved, rest := "/", name
	var fi fs.FileInfo // of resolved; nil after ".."
	for links := 0; ; {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			break
		}
		var elem string
		elem, rest, _ = strings.Cut(rest, "/")
		switch elem {
		case ".":
			continue
		case "..": // from a link's target: resolved has no symlinks, so its parent is lexical
			resolved, fi = filepath.Dir(resolved), nil
			continue
		}
		next := filepath.Join(resolved, elem)
		if !s.onTheWay(next) {
			return "", nil, refuse(http.StatusForbidden, reasonEscapes, nil)
		}
		var err error
		if fi, err = os.Lstat(next); err != nil {
			return "", nil, resolveError(err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > maxLinks {
			return "", nil, resolveError(syscall.ELOOP)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", nil, resolveError(err)
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		rest, fi = target+"/"+rest, nil
	}
	if s.rootIndex(resolved) < 0 { // an ancestor of a root
		return "", nil, refuse(http.StatusForbidden, reasonEscapes, nil)
	}
	if fi == nil {
		var err error
		if fi, err = os.Lstat(resolved); err != nil {
			return "", nil, resolveError(err)
		}
	}
	return resolved, fi, nil
}

func resolveError(err error) *Error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return refuse(http.StatusNotFound, reasonNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return refuse(http.StatusForbidden, reasonPermission, err)
	default: // symlink loops, names too long, ...
		return refuse(http.StatusBadRequest, "cannot resolve path", err)
	}
}

func openError(err error) *Error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return refuse(http.StatusNotFound, reasonNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return refuse(http.StatusForbidden, reasonPermission, err)
	default:
		// os.Root's "path escapes from parent" is not exported; whatever
		// else stopped the open, the answer is no.
		return refuse(http.StatusForbidden, "cannot open file", err)
	}
}
