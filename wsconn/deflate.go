// permessage-deflate (RFC 7692), negotiated with gobwas/ws's wsflate.

package wsconn

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
)

// deflateParams is what both sides ask for: no context takeover either way.
// Each message is compressed on its own, so a compressed frame does not
// depend on the connection (made once, it goes to every client that
// negotiated), and no connection holds a compressor or a window between
// messages: an idle stream costs what it cost without compression.
var deflateParams = wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}

// DeflateLevel is the compress/flate level of the frames from
// AppendDeflatedText: BestSpeed, whose pooled writers reset in constant time
// (the other levels clear 640 KiB of hash tables on each message), and which
// still takes a real log to a seventh of its size (14%; level 6: 12% for 2.5
// times the CPU).
const DeflateLevel = flate.BestSpeed

// MinDeflate is the smallest payload AppendDeflatedText compresses: below it
// the gain is a few bytes, not worth the client's inflating.
const MinDeflate = 128

// upgradeHTTP is ws.UpgradeHTTP that also accepts a permessage-deflate offer
// (unless cfg.NoDeflate). An offer it cannot take (server_max_window_bits,
// which compress/flate cannot keep to, or parameters it does not know) is
// declined, not refused: the stream goes on uncompressed. The headers set
// on w go with the answer, as net/http would send them with any other.
func upgradeHTTP(w http.ResponseWriter, r *http.Request, cfg Config) (nc net.Conn, rw *bufio.ReadWriter, deflate bool, err error) {
	var header http.Header
	if h := w.Header(); len(h) > 0 {
		header = h
	}
	if cfg.NoDeflate || !offersDeflate(r.Header) {
		nc, rw, _, err = ws.HTTPUpgrader{Header: header}.Upgrade(r, w)
		return nc, rw, false, err
	}
	ext := wsflate.Extension{Parameters: deflateParams}
	u := ws.HTTPUpgrader{Header: header, Negotiate: func(opt httphead.Option) (httphead.Option, error) {
		accept, err := ext.Negotiate(opt)
		if err != nil {
			return httphead.Option{}, nil // declined: the client may offer another
		}
		return accept, nil
	}}
	nc, rw, _, err = u.Upgrade(r, w)
	_, deflate = ext.Accepted()
	return nc, rw, deflate && err == nil, err
}

// offersDeflate reports whether the request offers permessage-deflate in a
// Sec-WebSocket-Extensions header that parses: gobwas/ws refuses the
// handshake for a malformed one once it looks at extensions, and a header no
// one used before must not start refusing clients.
func offersDeflate(h http.Header) bool {
	offered := false
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		ok := httphead.ScanOptions([]byte(v), func(_ int, name, _, _ []byte) httphead.Control {
			offered = offered || bytes.Equal(name, wsflate.ExtensionNameBytes)
			return httphead.ControlContinue
		})
		if !ok {
			return false
		}
	}
	return offered
}

// Deflate reports whether the client negotiated permessage-deflate: it may
// be sent frames from AppendDeflatedText, with WriteFrames.
func (c *Conn) Deflate() bool { return c.deflate }

// AppendDeflatedText appends to dst a whole text frame of payload for the
// clients that negotiated permessage-deflate: compressed (RSV1 set) when
// payload has at least MinDeflate bytes and compressing makes it smaller,
// otherwise as it is. The frame is the same for every such client: made once,
// it can be written to each with WriteFrames.
func AppendDeflatedText(dst, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderRoom)...)
	compressed := false
	if len(payload) >= MinDeflate {
		z, err := deflate(dst, payload)
		if err == nil && len(z)-start-HeaderRoom < len(payload) {
			dst, compressed = z, true
		}
	}
	if !compressed {
		dst = append(dst[:start+HeaderRoom], payload...)
	}
	// the header goes right before the payload; the room it leaves is closed
	msg := dst[start:]
	h := putHeader(msg, ws.OpText, len(msg)-HeaderRoom)
	if compressed {
		msg[h] |= rsv1Bit
	}
	n := copy(msg, msg[h:])
	return dst[:start+n]
}

// rsv1Bit is RSV1 in a frame's first byte: the message is compressed
// (RFC 7692 section 6).
const rsv1Bit = 0x40

// FrameStats walks frames made by AppendDeflatedText: how many, the bytes
// of their payloads, and how many of them and of those bytes are compressed.
func FrameStats(frames []byte) (n, payload, zn, zpayload int) {
	for len(frames) >= 2 {
		hl, size := 2, int(frames[1]&0x7f)
		switch size {
		case 126:
			hl, size = 4, int(binary.BigEndian.Uint16(frames[2:]))
		case 127:
			hl, size = 10, int(binary.BigEndian.Uint64(frames[2:]))
		}
		n++
		payload += size
		if frames[0]&rsv1Bit != 0 {
			zn++
			zpayload += size
		}
		frames = frames[hl+size:]
	}
	return n, payload, zn, zpayload
}

// WriteFrames writes whole frames made by AppendDeflatedText, as they are,
// in one write. Only to a Conn that negotiated permessage-deflate.
func (c *Conn) WriteFrames(frames []byte) error {
	if !c.deflate {
		return errors.New("wsconn: deflated frames to a connection without permessage-deflate")
	}
	if now := time.Now(); c.deadline.Sub(now) < c.cfg.WriteTimeout/2 {
		c.deadline = now.Add(c.cfg.WriteTimeout)
		c.nc.SetWriteDeadline(c.deadline)
	}
	_, err := c.nc.Write(frames)
	return err
}

// deflater is a pooled compressor: a flate writer is hundreds of KiB, made
// once per pool slot instead of once per message.
type deflater struct {
	w   *wsflate.Writer
	out appender
}

// appender is an io.Writer that appends to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

var deflaters = sync.Pool{New: func() any {
	return &deflater{w: wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
		f, _ := flate.NewWriter(w, DeflateLevel) // no error for a valid level
		return f
	})}
}}

// deflate appends payload compressed as one permessage-deflate message to
// dst: a fresh stream, sync-flushed, its final 0x00 0x00 0xff 0xff cut
// (RFC 7692 section 7.2.1; wsflate.Writer does the cut).
func deflate(dst, payload []byte) ([]byte, error) {
	d := deflaters.Get().(*deflater)
	d.out.b = dst
	d.w.Reset(&d.out)
	_, err := d.w.Write(payload)
	if err == nil {
		err = d.w.Flush()
	}
	dst = d.out.b
	d.out.b = nil
	deflaters.Put(d)
	return dst, err
}

// inflater is a pooled decompressor for messages compressed with no
// context takeover.
type inflater struct {
	src bytes.Reader
	r   *wsflate.Reader
}

// resettable gives the standard library's flate reader the Reset that
// wsflate.Reader looks for, so that a pooled one is reused, not remade.
type resettable struct{ io.ReadCloser }

func (f resettable) Reset(r io.Reader) { f.ReadCloser.(flate.Resetter).Reset(r, nil) }

func newInflater() *inflater {
	return &inflater{r: wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor {
		return resettable{flate.NewReader(r)}
	})}
}

var inflaters = sync.Pool{New: func() any { return newInflater() }}

// errInflate is a compressed message that does not inflate.
var errInflate = errors.New("invalid compressed data")

// inflate appends to dst the message compressed in z, failing with
// errTooLarge when dst would hold more than limit bytes.
func (f *inflater) inflate(dst, z []byte, limit int64) ([]byte, error) {
	f.src.Reset(z)
	f.r.Reset(&f.src)
	defer f.src.Reset(nil)
	for {
		if len(dst) == cap(dst) {
			// grow by doubling, to the limit and one byte more: reading that
			// byte says the message is over
			room := limit + 1 - int64(len(dst))
			dst = slices.Grow(dst, int(min(max(int64(cap(dst)), 512), room)))
		}
		n, err := f.r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, errInflate
		}
	}
}

// errTooLarge is a message that inflates past its limit.
var errTooLarge = errors.New("message too big once inflated")

// inflateMessage inflates a whole compressed message with a pooled inflater.
func inflateMessage(z []byte, limit int64) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	return f.inflate(make([]byte, 0, min(int64(4*len(z)+512), limit+1)), z, limit)
}

// ErrInvalidCompressed is a compressed message from the server that does
// not inflate; the client closes with 1007.
var ErrInvalidCompressed = errors.New("wsconn: invalid compressed message")

// deflateOffer is the permessage-deflate offer a client makes.
func deflateOffer() []httphead.Option { return []httphead.Option{deflateParams.Option()} }

// acceptedDeflate reports whether the server's answer accepted the offer, and
// fails when it accepted it with parameters the offer did not allow.
func acceptedDeflate(accepted []httphead.Option) (bool, error) {
	for _, opt := range accepted {
		if !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
			continue
		}
		var p wsflate.Parameters
		if err := p.Parse(opt); err != nil {
			return false, fmt.Errorf("permessage-deflate answer: %w", err)
		}
		if !p.ServerNoContextTakeover {
			// each message is inflated on its own: a window carried over
			// from the last one would make the next fail
			return false, errors.New("permessage-deflate answer without server_no_context_takeover, which the offer asked for")
		}
		return true, nil
	}
	return false, nil
}

// useDeflate sets up the reader of a client that negotiated
// permessage-deflate: RSV1 marks a compressed message, and UTF-8 is checked
// once it is inflated (readDeflated), not on the compressed bytes.
func (c *Client) useDeflate() {
	c.deflate = true
	c.r.State = c.r.State.Set(ws.StateExtended) // RSV bits are checked by unsetBits
	c.r.CheckUTF8 = false
	c.r.Extensions = []wsutil.RecvExtension{wsutil.RecvExtensionFunc(c.unsetBits)}
}

// unsetBits takes RSV1 off the first frame of a data message, noting whether
// the message is compressed; RSV1 anywhere else, or RSV2 or RSV3, breaks the
// protocol.
func (c *Client) unsetBits(h ws.Header) (ws.Header, error) {
	h, err := c.zstate.UnsetBits(h)
	if err == nil && h.Rsv != 0 {
		err = ws.ErrProtocolNonZeroRsv
	}
	return h, err
}

// readDeflated reads a data message of a client that negotiated
// permessage-deflate: compressed or not, bounded by MaxMessage before and
// after inflating, and checked for UTF-8 when text.
func (c *Client) readDeflated(h ws.Header) ([]byte, error) {
	compressed := c.zstate.IsCompressed()
	data, err := c.readMessage(h)
	if err != nil || !compressed {
		if err == nil && h.OpCode == ws.OpText && !utf8.Valid(data) {
			return nil, ErrInvalidUTF8
		}
		return data, err
	}
	if c.inflater == nil {
		c.inflater = newInflater()
	}
	limit := c.maxMessage
	if limit < 0 {
		limit = math.MaxInt64 - 1
	}
	data, err = c.inflater.inflate(make([]byte, 0, min(int64(4*len(data)+512), limit+1)), data, limit)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, &TooBigError{c.maxMessage}
	case err != nil:
		return nil, ErrInvalidCompressed
	case h.OpCode == ws.OpText && !utf8.Valid(data):
		return nil, ErrInvalidUTF8
	}
	return data, nil
}
