// Package layout holds no code: its test checks the repository's import
// graph against the layout that DESIGN.md and the README describe (which
// room may import which, each third-party library in one place).
package layout
