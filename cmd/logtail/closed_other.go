//go:build !linux

package main

import "io"

// watchOutput does nothing here: a closed stdout is seen at the next write.
func watchOutput(w io.Writer, gone func()) (stop func()) { return func() {} }
