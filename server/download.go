// download=1: the whole file as an attachment, through http.ServeContent.

package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
)

// download serves the file as an attachment through http.ServeContent:
// Range (206, 416), If-Modified-Since and If-None-Match (304), If-Range,
// HEAD. The file is opened through the sandbox as a stream's is (the same
// refusals); its size and modification time are those of the open, so a
// log written meanwhile is served as it was then, consistently with its
// Last-Modified and ETag. It is read a block at a time (never held), each
// block given writeTimeout to reach the client; the daemon's stop lets it
// finish within --shutdown-timeout.
func (d *Daemon) download(w http.ResponseWriter, r *http.Request, name string) {
	f, fi, _, err := d.box.Open(name)
	if err != nil {
		d.refuseFormErr(w, r, err)
		return
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream") // never sniffed, never shown as a page
	hd.Set("Content-Disposition", attachment(path.Base(name)))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-cache") // a log changes: ask again, with the validators
	if tag := etag(fi); tag != "" {
		hd.Set("ETag", tag)
	}
	allowOrigin(hd, r)
	rc := http.NewResponseController(w)
	body := &downloadReader{SectionReader: io.NewSectionReader(f, 0, fi.Size()), rc: rc, kill: d.kill}
	defer context.AfterFunc(d.kill, func() { rc.SetWriteDeadline(time.Unix(1, 0)) })()
	start := time.Now()
	http.ServeContent(w, r, "", fi.ModTime(), body)
	d.log.Info("file downloaded", "remote", r.RemoteAddr, "path", name, "range", clip(r.Header.Get("Range")),
		"bytes_read", body.n, "duration", time.Since(start).Round(time.Millisecond))
}

// downloadReader is the file as http.ServeContent reads it: each read
// moves the write deadline on (the write of that block follows), and none
// is made once the daemon drops its clients.
type downloadReader struct {
	*io.SectionReader
	rc       *http.ResponseController
	kill     context.Context
	deadline time.Time
	n        int64 // bytes read
}

var errDropped = errors.New("daemon stopped: download dropped")

func (dr *downloadReader) Read(p []byte) (int, error) {
	if dr.kill.Err() != nil {
		return 0, errDropped
	}
	if now := time.Now(); dr.deadline.Sub(now) < writeTimeout/2 {
		dr.deadline = now.Add(writeTimeout)
		dr.rc.SetWriteDeadline(dr.deadline)
		if dr.kill.Err() != nil { // dropped meanwhile: drop stands
			dr.rc.SetWriteDeadline(time.Unix(1, 0))
		}
	}
	n, err := dr.SectionReader.Read(p)
	dr.n += int64(n)
	return n, err
}

// etag names the file's content as opened: its device and inode, size and
// modification time. A file rotated away and a new one under the name, or
// one written since, have another, so If-Range never mixes two files.
func etag(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf(`"%x-%x-%x-%x"`, st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano())
}

// attachment is the Content-Disposition that saves a file as name (RFC
// 6266): filename="…" in printable ASCII, every other character, '"', '\'
// and '%' made '_'; and, when that is not the name itself, filename*= with
// the name in UTF-8, percent-encoded (RFC 8187), which browsers prefer.
// Nothing a file's name holds can end the header or add a parameter.
func attachment(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	ascii := make([]byte, 0, len(name))
	for _, c := range name {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '%' {
			c = '_'
		}
		ascii = append(ascii, byte(c))
	}
	v := `attachment; filename="` + string(ascii) + `"`
	if string(ascii) != name {
		v += "; filename*=UTF-8''" + percentEncode(name)
	}
	return v
}

// percentEncode escapes all but RFC 8187's attr-char.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$&+-.^_`|~", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}
