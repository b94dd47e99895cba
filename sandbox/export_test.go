package sandbox

import (
	"os"
	"path/filepath"
)

// For the tests: the daemon calls Name and Open apart (Name before it looks
// at the request further), the tests mostly want both.

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
	if !filepath.IsAbs(name) || filepath.Clean(name) != name || !s.allowed(name) {
		return false
	}
	_, fi, err := s.resolve(filepath.Dir(name))
	return err == nil && fi.IsDir()
}
