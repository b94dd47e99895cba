package wire

import "unicode/utf8"

// replacement is U+FFFD, which stands for each invalid byte.
const replacement = "\uFFFD"

// AppendValidUTF8 appends s with each byte that is not part of valid UTF-8
// replaced by U+FFFD: text frames are always valid UTF-8 (RFC 6455 §8.1).
func AppendValidUTF8(dst, s []byte) []byte {
	if utf8.Valid(s) {
		return append(dst, s...)
	}
	start := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, replacement...)
			i++
			start = i
			continue
		}
		i += n
	}
	return append(dst, s[start:]...)
}
