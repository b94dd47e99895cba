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
	roots []*os.Root // roots[i] is opened on paths[i]
}

// New opens each root. A root must exist and be a directory; it is made
// absolute and its symlinks are resolved so that containment checks compare
// real paths. Duplicate roots are fine. Errors name the root.
func New(roots ...string) (*Sandbox, error) {
	if len(roots) == 0 {
		return nil, errors.New("sandbox: no roots given")
	}
	s := &Sandbox{}
	for _, root := range roots {
		real, err := resolveRoot(root)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sandbox: root %q: %w", root, err)
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
		s.roots = append(s.roots, r)
	}
	return s, nil
}

func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", real)
	}
	return real, nil
}

// Roots returns the resolved absolute roots.
func (s *Sandbox) Roots() []string {
	return append([]string(nil), s.paths...)
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
	// Anything still encoded after one decode is an attempt to smuggle a
	// dot, separator or NUL past a later decode; no honest client does that.
	lower := strings.ToLower(p)
	for _, enc := range []string{"%2e", "%2f", "%5c", "%00"} {
		if strings.Contains(lower, enc) {
			return bad("double-encoded path", nil)
		}
	}
	// Refuse rather than clean away "..": a request that climbs is never
	// legitimate, and refusing it keeps the rules easy to reason about.
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return bad(`".." in path`, nil)
		}
	}
	name := filepath.Clean(p)
	if s.rootIndex(name) < 0 {
		return "", refuse(http.StatusForbidden, reasonEscapes, nil)
	}
	return name, nil
}

// openFlags never block: a FIFO swapped in for a log file must not hang the
// open, and a terminal must not become our controlling tty.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY

// Open resolves name (a cleaned absolute path as returned by Name) on the file
// system and opens it for reading through the os.Root of the root containing
// its real path. Symlinks may point anywhere inside the roots, even into
// another root. It returns the open file, its FileInfo and the real path.
func (s *Sandbox) Open(name string) (f *os.File, fi os.FileInfo, real string, err error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 || !filepath.IsAbs(name) || filepath.Clean(name) != name {
		return nil, nil, "", refuse(http.StatusBadRequest, "path is not clean and absolute", nil)
	}
	if s.rootIndex(name) < 0 {
		return nil, nil, "", refuse(http.StatusForbidden, reasonEscapes, nil)
	}
	real, err = filepath.EvalSymlinks(name)
	if err != nil {
		return nil, nil, "", resolveError(err)
	}
	i := s.rootIndex(real)
	if i < 0 {
		return nil, nil, "", refuse(http.StatusForbidden, reasonEscapes, nil)
	}
	rel, err := filepath.Rel(s.paths[i], real)
	if err != nil { // cannot happen: real is inside paths[i]
		return nil, nil, "", refuse(http.StatusForbidden, reasonEscapes, err)
	}
	// Opening through os.Root closes the window between EvalSymlinks and
	// open: a symlink swapped in meanwhile still cannot leave the root.
	f, err = s.roots[i].OpenFile(rel, openFlags, 0)
	if err != nil {
		return nil, nil, "", openError(err)
	}
	fi, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, "", refuse(http.StatusForbidden, "cannot stat file", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, "", refuse(http.StatusBadRequest, reasonNotRegular, nil)
	}
	return f, fi, real, nil
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

// Resolve is Name followed by Open. The returned path is the real path of the
// opened file, as returned by Open.
func (s *Sandbox) Resolve(escapedPath string) (f *os.File, fi os.FileInfo, real string, err error) {
	name, err := s.Name(escapedPath)
	if err != nil {
		return nil, nil, "", err
	}
	return s.Open(name)
}

// ParentExists reports whether name (cleaned absolute) lies inside a root and
// its parent directory exists inside the roots, so that a file not created
// yet may be waited for.
func (s *Sandbox) ParentExists(name string) bool {
	if !filepath.IsAbs(name) || filepath.Clean(name) != name || s.rootIndex(name) < 0 {
		return false
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(name))
	if err != nil || s.rootIndex(dir) < 0 {
		return false
	}
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}
