package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// TestRFC6455 holds the server side of a Conn to RFC 6455, case by case, in
// the manner of the Autobahn testsuite: the test is the client, writes raw
// masked frames on a loopback socket and reads what the server sends back.
//
// The server is a Conn driven the way logtaild drives one (see answer): it
// pongs each ping, echoes the code of a valid close and closes with the code
// of a Broken event. Clients have nothing to say beyond control frames, so
// their data messages are checked (masking, fragmentation, UTF-8, size) and
// dropped: where Autobahn expects an echo, the contract here is that the
// connection stays open, which a trailing ping must prove by getting its
// pong. Every case ends with a close handshake and the server closing TCP.
//
// Groups and subgroups are Autobahn's (1 framing, 2 pings and pongs,
// 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close); case
// numbers follow Autobahn's where it has the case and count on otherwise.
// Cases Autobahn does not have are marked "(RFC)".
//
// Chunked cases write each chunk with its own Write. TCP may still join
// chunks the server has not read yet, as it may for Autobahn: they make the
// server see partial frames most of the time, not every time.
func TestRFC6455(t *testing.T) {
	addr := serveUpgrades(t, answer)
	for _, tc := range rfc6455Cases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, addr) })
	}
}

// answer drives a Conn as logtaild's stream does with its events.
func answer(c *Conn) {
	for ev := range c.Events() {
		switch ev.Kind {
		case Ping:
			if c.Pong(ev.Payload) != nil {
				c.Abort()
				return
			}
		case PeerClose:
			c.Close(ev.Code, "")
			return
		case Broken:
			c.Close(ev.Code, ev.Reason)
			return
		case Gone:
			c.Abort()
			return
		}
	}
}

// rfcCase is one conformance case.
type rfcCase struct {
	name string
	send [][]byte // what the client sends, one Write per element
	// want is what the server sends back, in order. Unless it ends with a
	// close the connection must stay open: then a ping must still be
	// answered and a close 1000 echoed.
	want []reply
	// deflate: the client offers permessage-deflate (RFC 7692 cases)
	deflate bool
}

// reply is a frame the server must send: a pong with payload, or a close
// with code.
type reply struct {
	op      ws.OpCode
	payload []byte
	code    CloseCode
}

func pongOf(p []byte) reply          { return reply{op: ws.OpPong, payload: p} }
func closeWith(code CloseCode) reply { return reply{op: ws.OpClose, code: code} }

func (r reply) String() string {
	if r.op == ws.OpClose {
		return fmt.Sprintf("close %d", r.code)
	}
	return fmt.Sprintf("pong %q", r.payload)
}

// The reserved bits of a frame's first byte, as frame takes them (Autobahn's
// RSV value 1 to 7 is the same three bits).
const (
	rsv1 = 4
	rsv2 = 2
	rsv3 = 1
)

// frame is a client frame: masked, its length in the shortest form.
func frame(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	return encodeFrame(fin, rsv, op, payload, true)
}

// unmaskedFrame is a final frame a client must not send: without a mask.
func unmaskedFrame(op ws.OpCode, payload []byte) []byte {
	return encodeFrame(true, 0, op, payload, false)
}

func encodeFrame(fin bool, rsv byte, op ws.OpCode, payload []byte, masked bool) []byte {
	b0 := rsv<<4 | byte(op)
	if fin {
		b0 |= 0x80
	}
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d} // the key of RFC 6455 section 5.7
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func text(s string) []byte     { return frame(true, 0, ws.OpText, []byte(s)) }
func binFrame(p []byte) []byte { return frame(true, 0, ws.OpBinary, p) }
func ping(p []byte) []byte     { return frame(true, 0, ws.OpPing, p) }
func pong(p []byte) []byte     { return frame(true, 0, ws.OpPong, p) }

// frag is one fragment of a message: op is OpText or OpBinary for the
// first, OpContinuation for the others.
func frag(op ws.OpCode, fin bool, p string) []byte { return frame(fin, 0, op, []byte(p)) }

// closeFrame is a close with code and reason.
func closeFrame(code CloseCode, reason string) []byte {
	return closeBody(binary.BigEndian.AppendUint16(nil, uint16(code)), reason)
}

// closeBody is a close whose payload is body followed by reason.
func closeBody(body []byte, reason string) []byte {
	return frame(true, 0, ws.OpClose, append(body, reason...))
}

// inOne sends frames in one write.
func inOne(frames ...[]byte) [][]byte { return [][]byte{bytes.Join(frames, nil)} }

// frameWise sends each frame in its own write.
func frameWise(frames ...[]byte) [][]byte { return frames }

// inChops sends frames in writes of n bytes (octet-wise for n = 1).
func inChops(n int, frames ...[]byte) [][]byte {
	all := bytes.Join(frames, nil)
	var chunks [][]byte
	for len(all) > n {
		chunks = append(chunks, all[:n])
		all = all[n:]
	}
	return append(chunks, all)
}

// fill is n copies of c.
func fill(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

// octetFragments is s as a text message in fragments of 1 byte.
func octetFragments(s string) [][]byte {
	var frames [][]byte
	for i := range len(s) {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpText
		}
		frames = append(frames, frag(op, i == len(s)-1, s[i:i+1]))
	}
	return frames
}

func rfc6455Cases() []rfcCase {
	var cases []rfcCase
	add := func(name string, send [][]byte, want ...reply) {
		cases = append(cases, rfcCase{name: name, send: send, want: want})
	}
	const (
		protocolError = CodeProtocolError
		invalidData   = CodeInvalidData
	)
	pingPayload := []byte("ping payload")

	// 1 Framing: data messages of every length form are read and dropped.
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536}
	for i, n := range sizes {
		add(fmt.Sprintf("1.1.%d text %d bytes", i+1, n), inOne(text(strings.Repeat("*", n))))
	}
	add("1.1.8 text 65536 bytes in chops of 997", inChops(997, text(strings.Repeat("*", 65536))))
	for i, n := range sizes {
		add(fmt.Sprintf("1.2.%d binary %d bytes", i+1, n), inOne(binFrame(fill(0xfe, n))))
	}
	add("1.2.8 binary 65536 bytes in chops of 997", inChops(997, binFrame(fill(0xfe, 65536))))
	add("1.3.1 text 65537 bytes, over MaxMessage (RFC)", inOne(text(strings.Repeat("*", 65537))),
		closeWith(CodeTooBig))
	add("1.3.2 unmasked text (RFC)", inOne(unmaskedFrame(ws.OpText, []byte("Hello"))), closeWith(protocolError))
	add("1.3.3 unmasked ping (RFC)", inOne(unmaskedFrame(ws.OpPing, pingPayload)), closeWith(protocolError))
	msb := []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x37, 0xfa, 0x21, 0x3d}
	add("1.3.4 64-bit length with its top bit set (RFC)", inOne(msb), closeWith(protocolError))
	add("1.3.5 text and ping in one write (RFC)", inOne(text("Hello"), ping(pingPayload)), pongOf(pingPayload))

	// 2 Pings and pongs.
	binPayload := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
	add("2.1 ping without payload", inOne(ping(nil)), pongOf(nil))
	add("2.2 ping with text payload", inOne(ping([]byte("Hello, world!"))), pongOf([]byte("Hello, world!")))
	add("2.3 ping with binary payload", inOne(ping(binPayload)), pongOf(binPayload))
	add("2.4 ping with 125 bytes of payload", inOne(ping(fill(0xfe, 125))), pongOf(fill(0xfe, 125)))
	add("2.5 ping with 126 bytes of payload", inOne(ping(fill(0xfe, 126))), closeWith(protocolError))
	add("2.6 ping with 125 bytes in chops of 1", inChops(1, ping(fill(0xfe, 125))), pongOf(fill(0xfe, 125)))
	add("2.7 unsolicited pong without payload", inOne(pong(nil)))
	add("2.8 unsolicited pong with payload", inOne(pong([]byte("unsolicited pong payload"))))
	add("2.9 unsolicited pong, then ping", inOne(pong([]byte("unsolicited pong payload")), ping(pingPayload)),
		pongOf(pingPayload))
	var pings [][]byte
	var pongs []reply
	for i := range 10 {
		p := fmt.Appendf(nil, "payload-%d", i)
		pings, pongs = append(pings, ping(p)), append(pongs, pongOf(p))
	}
	add("2.10 10 pings", inOne(pings...), pongs...)
	add("2.11 10 pings in chops of 1", inChops(1, pings...), pongs...)

	// 3 Reserved bits: no extension is negotiated, so any set bit fails.
	add("3.1 text with RSV3", inOne(frame(true, rsv3, ws.OpText, []byte("Hello"))), closeWith(protocolError))
	add("3.2 text, text with RSV2, ping",
		inOne(text("Hello"), frame(true, rsv2, ws.OpText, []byte("Hello")), ping(pingPayload)),
		closeWith(protocolError))
	add("3.3 text, text with RSV2 and RSV3, ping, frame-wise",
		frameWise(text("Hello"), frame(true, rsv2|rsv3, ws.OpText, []byte("Hello")), ping(pingPayload)),
		closeWith(protocolError))
	add("3.4 text, text with RSV1, ping, octet-wise",
		inChops(1, text("Hello"), frame(true, rsv1, ws.OpText, []byte("Hello")), ping(pingPayload)),
		closeWith(protocolError))
	add("3.5 binary with RSV1 and RSV3", inOne(frame(true, rsv1|rsv3, ws.OpBinary, binPayload)),
		closeWith(protocolError))
	add("3.6 ping with RSV1 and RSV2", inOne(frame(true, rsv1|rsv2, ws.OpPing, pingPayload)),
		closeWith(protocolError))
	add("3.7 close with RSV1, RSV2 and RSV3", inOne(frame(true, rsv1|rsv2|rsv3, ws.OpClose, []byte{0x03, 0xe8})),
		closeWith(protocolError))
	add("3.8 pong with RSV2 (RFC)", inOne(frame(true, rsv2, ws.OpPong, nil)), closeWith(protocolError))
	add("3.9 continuation with RSV1 (RFC)",
		inOne(frag(ws.OpText, false, "Hel"), frame(true, rsv1, ws.OpContinuation, []byte("lo"))),
		closeWith(protocolError))

	// 4 Opcodes: 3-7 (data) and 0xB-0xF (control) are reserved.
	for sub, ops := range [][]ws.OpCode{{3, 4, 5, 6, 7}, {11, 12, 13, 14, 15}} {
		for i, op := range ops {
			name := fmt.Sprintf("4.%d.%d opcode %d", sub+1, i+1, op)
			switch i {
			case 0:
				add(name, inOne(frame(true, 0, op, nil)), closeWith(protocolError))
			case 1:
				add(name+" with payload", inOne(frame(true, 0, op, []byte("reserved opcode payload"))),
					closeWith(protocolError))
			default:
				add(name+" between text and ping",
					inOne(text("Hello"), frame(true, 0, op, []byte("reserved opcode payload")), ping(pingPayload)),
					closeWith(protocolError))
			}
		}
	}

	// 5 Fragmentation.
	add("5.1 ping in 2 fragments",
		inOne(frame(false, 0, ws.OpPing, []byte("fragment1")), frag(ws.OpContinuation, true, "fragment2")),
		closeWith(protocolError))
	add("5.2 pong in 2 fragments",
		inOne(frame(false, 0, ws.OpPong, []byte("fragment1")), frag(ws.OpContinuation, true, "fragment2")),
		closeWith(protocolError))
	twoFrags := [][]byte{frag(ws.OpText, false, "fragment1"), frag(ws.OpContinuation, true, "fragment2")}
	add("5.3 text in 2 fragments", inOne(twoFrags...))
	add("5.4 text in 2 fragments, frame-wise", frameWise(twoFrags...))
	add("5.5 text in 2 fragments, octet-wise", inChops(1, twoFrags...))
	withPing := [][]byte{twoFrags[0], ping(pingPayload), twoFrags[1]}
	add("5.6 text in 2 fragments with a ping between", inOne(withPing...), pongOf(pingPayload))
	add("5.7 text in 2 fragments with a ping between, frame-wise", frameWise(withPing...), pongOf(pingPayload))
	add("5.8 text in 2 fragments with a ping between, octet-wise", inChops(1, withPing...), pongOf(pingPayload))
	lone := [][]byte{frag(ws.OpContinuation, true, "non-continuation payload"), text("Hello, world!")}
	add("5.9 continuation with FIN and nothing to continue", inOne(lone...), closeWith(protocolError))
	add("5.10 continuation with FIN and nothing to continue, frame-wise", frameWise(lone...),
		closeWith(protocolError))
	add("5.11 continuation with FIN and nothing to continue, octet-wise", inChops(1, lone...),
		closeWith(protocolError))
	lone[0] = frag(ws.OpContinuation, false, "non-continuation payload")
	add("5.12 continuation without FIN and nothing to continue", inOne(lone...), closeWith(protocolError))
	add("5.13 continuation without FIN and nothing to continue, frame-wise", frameWise(lone...),
		closeWith(protocolError))
	add("5.14 continuation without FIN and nothing to continue, octet-wise", inChops(1, lone...),
		closeWith(protocolError))
	add("5.15 text in 2 fragments, then a continuation with nothing to continue",
		inOne(twoFrags[0], twoFrags[1], frag(ws.OpContinuation, false, "fragment3"), text("fragment4")),
		closeWith(protocolError))
	add("5.16 continuation without FIN, then text in 2 fragments, twice",
		inOne(frag(ws.OpContinuation, false, "fragment1"), twoFrags[0], twoFrags[1],
			frag(ws.OpContinuation, false, "fragment1"), twoFrags[0], twoFrags[1]),
		closeWith(protocolError))
	add("5.17 continuation with FIN, then text in 2 fragments, twice",
		inOne(frag(ws.OpContinuation, true, "fragment1"), twoFrags[0], twoFrags[1],
			frag(ws.OpContinuation, true, "fragment1"), twoFrags[0], twoFrags[1]),
		closeWith(protocolError))
	add("5.18 text in 2 fragments, both text frames",
		inOne(frag(ws.OpText, false, "fragment1"), frag(ws.OpText, true, "fragment2")),
		closeWith(protocolError))
	fiveFrags := [][]byte{
		frag(ws.OpText, false, "fragment1"), frag(ws.OpContinuation, false, "fragment2"),
		ping([]byte("pongme 1!")),
		frag(ws.OpContinuation, false, "fragment3"), frag(ws.OpContinuation, false, "fragment4"),
		ping([]byte("pongme 2!")),
		frag(ws.OpContinuation, true, "fragment5"),
	}
	add("5.19 text in 5 fragments with 2 pings between", inOne(fiveFrags...),
		pongOf([]byte("pongme 1!")), pongOf([]byte("pongme 2!")))
	add("5.20 text in 5 fragments with 2 pings between, frame-wise", frameWise(fiveFrags...),
		pongOf([]byte("pongme 1!")), pongOf([]byte("pongme 2!")))
	add("5.21 binary in 3 fragments (RFC)",
		inOne(frame(false, 0, ws.OpBinary, binPayload), frame(false, 0, ws.OpContinuation, binPayload),
			frame(true, 0, ws.OpContinuation, binPayload)))
	many := octetFragments(strings.Repeat("0123456789", 100))
	add("5.22 text in 1000 fragments of 1 byte (RFC)", inOne(many...))
	add("5.23 text in 1000 fragments of 1 byte, frame-wise (RFC)", frameWise(many...))
	add("5.24 text in empty fragments around a fragment (RFC)",
		inOne(frag(ws.OpText, false, ""), frag(ws.OpContinuation, false, ""),
			frag(ws.OpContinuation, false, "middle"), frag(ws.OpContinuation, true, "")))
	add("5.25 fragment, then binary instead of a continuation (RFC)",
		inOne(twoFrags[0], binFrame(binPayload)), closeWith(protocolError))
	add("5.26 close between fragments (RFC)",
		inOne(twoFrags[0], closeFrame(1000, "")), closeWith(1000))
	add("5.27 text in 2 fragments, then text and binary (RFC)",
		inOne(twoFrags[0], twoFrags[1], text("Hello"), binFrame(binPayload)))
	add("5.28 text in 2 fragments, then a lone final continuation (RFC)",
		inOne(twoFrags[0], twoFrags[1], frag(ws.OpContinuation, true, "fragment3")), closeWith(protocolError))
	add("5.29 2 fragments of 32769 bytes, over MaxMessage (RFC)",
		inOne(frame(false, 0, ws.OpText, fill('*', 32769)), frame(true, 0, ws.OpContinuation, fill('*', 32769))),
		closeWith(CodeTooBig))

	// 6 UTF-8 in text messages, checked at the end of each message.
	const hello = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"
	const kosme = "\u03ba\u1f79\u03c3\u03bc\u03b5"
	add("6.1.1 empty text", inOne(text("")))
	add("6.1.2 empty text in 3 empty fragments",
		inOne(frag(ws.OpText, false, ""), frag(ws.OpContinuation, false, ""), frag(ws.OpContinuation, true, "")))
	add("6.1.3 text in fragments: empty, payload, empty",
		inOne(frag(ws.OpText, false, ""), frag(ws.OpContinuation, false, "middle frame payload"),
			frag(ws.OpContinuation, true, "")))
	add("6.2.1 valid UTF-8 in 1 frame", inOne(text(hello)))
	add("6.2.2 valid UTF-8 in 2 fragments split between code points",
		inOne(frag(ws.OpText, false, hello[:12]), frag(ws.OpContinuation, true, hello[12:])))
	add("6.2.3 valid UTF-8 in 1-byte fragments, split inside code points", inOne(octetFragments(hello)...))
	add("6.2.4 kosme in 1-byte fragments", inOne(octetFragments(kosme)...))
	invalidKosme := kosme + "\xed\xa0\x80edited"
	add("6.3.1 invalid UTF-8 in 1 frame", inOne(text(invalidKosme)), closeWith(invalidData))
	add("6.3.2 invalid UTF-8 in 1-byte fragments", inOne(octetFragments(invalidKosme)...), closeWith(invalidData))
	add("6.4.1 invalid middle fragment",
		inOne(frag(ws.OpText, false, kosme), frag(ws.OpContinuation, false, "\xf4\x90\x80\x80"),
			frag(ws.OpContinuation, true, "edited")),
		closeWith(invalidData))
	add("6.4.2 invalid sequence across fragment boundaries",
		inOne(frag(ws.OpText, false, kosme+"\xf4"), frag(ws.OpContinuation, false, "\x90"),
			frag(ws.OpContinuation, true, "\x80\x80edited")),
		closeWith(invalidData))
	add("6.4.3 invalid middle fragment, octet-wise",
		inChops(1, frag(ws.OpText, false, kosme), frag(ws.OpContinuation, false, "\xf4\x90\x80\x80"),
			frag(ws.OpContinuation, true, "edited")),
		closeWith(invalidData))
	add("6.4.4 sequence cut off by the last fragment (RFC)",
		inOne(frag(ws.OpText, false, "edited"), frag(ws.OpContinuation, true, "\xe2\x82")),
		closeWith(invalidData))
	add("6.4.5 ping between the fragments of an invalid message (RFC)",
		inOne(frag(ws.OpText, false, kosme+"\xed"), ping(pingPayload), frag(ws.OpContinuation, true, "\xa0\x80")),
		pongOf(pingPayload), closeWith(invalidData))
	for _, u := range []struct {
		name string
		s    string
		ok   bool
	}{
		{"6.5.1 kosme", kosme, true},
		{"6.6.1 first byte of kosme", kosme[:1], false},
		{"6.6.3 kosme cut inside its second code point", kosme[:4], false},
		{"6.7.1 U+0000", "\x00", true},
		{"6.7.2 U+0080", "\xc2\x80", true},
		{"6.7.3 U+0800", "\xe0\xa0\x80", true},
		{"6.7.4 U+10000", "\xf0\x90\x80\x80", true},
		{"6.8.1 5-byte sequence", "\xf8\x88\x80\x80\x80", false},
		{"6.8.2 6-byte sequence", "\xfc\x84\x80\x80\x80\x80", false},
		{"6.9.1 U+007F", "\x7f", true},
		{"6.9.2 U+07FF", "\xdf\xbf", true},
		{"6.9.3 U+FFFF", "\xef\xbf\xbf", true},
		{"6.9.4 U+10FFFF", "\xf4\x8f\xbf\xbf", true},
		{"6.10.1 U+1FFFFF as 4 bytes, above U+10FFFF", "\xf7\xbf\xbf\xbf", false},
		{"6.10.2 5 bytes, above U+10FFFF", "\xfb\xbf\xbf\xbf\xbf", false},
		{"6.10.3 6 bytes, above U+10FFFF", "\xfd\xbf\xbf\xbf\xbf\xbf", false},
		{"6.11.1 U+D7FF", "\xed\x9f\xbf", true},
		{"6.11.2 U+E000", "\xee\x80\x80", true},
		{"6.11.3 U+FFFD", "\xef\xbf\xbd", true},
		{"6.11.4 U+10FFFF", "\xf4\x8f\xbf\xbf", true},
		{"6.11.5 U+110000", "\xf4\x90\x80\x80", false},
		{"6.12.1 lone continuation byte 0x80", "\x80", false},
		{"6.12.2 lone continuation byte 0xBF", "\xbf", false},
		{"6.12.3 continuation bytes 0x80 0xBF", "\x80\xbf", false},
		{"6.13.1 lonely start bytes of 2-byte sequences", "\xc0 \xc1 \xc2 \xdf ", false},
		{"6.13.2 lonely start bytes of 3-byte sequences", "\xe0 \xef ", false},
		{"6.14.1 2-byte sequence, last byte missing", "\xc2", false},
		{"6.14.2 3-byte sequence, last byte missing", "\xe0\xa0", false},
		{"6.14.3 4-byte sequence, last byte missing", "\xf0\x90\x80", false},
		{"6.15.1 incomplete sequences concatenated", "\xc2\xe0\xa0\xf0\x90\x80", false},
		{"6.16.1 byte 0xFE", "\xfe", false},
		{"6.16.2 byte 0xFF", "\xff", false},
		{"6.16.3 bytes 0xFE 0xFE 0xFF 0xFF", "\xfe\xfe\xff\xff", false},
		{"6.17.1 overlong '/' in 2 bytes", "\xc0\xaf", false},
		{"6.17.2 overlong '/' in 3 bytes", "\xe0\x80\xaf", false},
		{"6.17.3 overlong '/' in 4 bytes", "\xf0\x80\x80\xaf", false},
		{"6.17.4 overlong '/' in 5 bytes", "\xf8\x80\x80\x80\xaf", false},
		{"6.18.1 overlong U+007F in 2 bytes", "\xc1\xbf", false},
		{"6.18.2 overlong U+07FF in 3 bytes", "\xe0\x9f\xbf", false},
		{"6.18.3 overlong U+FFFF in 4 bytes", "\xf0\x8f\xbf\xbf", false},
		{"6.19.1 overlong NUL in 2 bytes", "\xc0\x80", false},
		{"6.19.2 overlong NUL in 3 bytes", "\xe0\x80\x80", false},
		{"6.19.3 overlong NUL in 4 bytes", "\xf0\x80\x80\x80", false},
		{"6.20.1 surrogate U+D800", "\xed\xa0\x80", false},
		{"6.20.2 surrogate U+DB7F", "\xed\xad\xbf", false},
		{"6.20.4 surrogate U+DBFF", "\xed\xaf\xbf", false},
		{"6.20.5 surrogate U+DC00", "\xed\xb0\x80", false},
		{"6.20.7 surrogate U+DFFF", "\xed\xbf\xbf", false},
		{"6.21.1 surrogate pair U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80", false},
		{"6.21.8 surrogate pair U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf", false},
		{"6.22.1 noncharacter U+FFFE", "\xef\xbf\xbe", true},
		{"6.22.2 noncharacter U+FDD0", "\xef\xb7\x90", true},
		{"6.22.3 noncharacter U+10FFFE", "\xf4\x8f\xbf\xbe", true},
	} {
		if u.ok {
			add(u.name, inOne(text(u.s)))
		} else {
			add(u.name, inOne(text(u.s)), closeWith(invalidData))
		}
	}
	add("6.23.1 binary that is not UTF-8 (RFC)", inOne(binFrame([]byte("\xed\xa0\x80\xff\xfe"))))

	// 7 Close handshake. Nothing the client sends after its close is read.
	add("7.1.1 text, then close", inOne(text("Hello World!"), closeFrame(1000, "")), closeWith(1000))
	add("7.1.2 close twice", inOne(closeFrame(1000, ""), closeFrame(1000, "")), closeWith(1000))
	add("7.1.3 close, then ping", inOne(closeFrame(1000, ""), ping(pingPayload)), closeWith(1000))
	add("7.1.4 close, then text", inOne(closeFrame(1000, ""), text("Hello World!")), closeWith(1000))
	add("7.1.5 fragment, close, continuation",
		inOne(twoFrags[0], closeFrame(1000, ""), twoFrags[1]), closeWith(1000))
	add("7.1.6 65536-byte text, close, ping",
		inOne(text(strings.Repeat("*", 65536)), closeFrame(1000, ""), ping(pingPayload)), closeWith(1000))
	add("7.3.1 close without payload", inOne(closeBody(nil, "")), closeWith(1000))
	add("7.3.2 close with 1 byte of payload", inOne(closeBody([]byte{0x03}, "")), closeWith(protocolError))
	add("7.3.3 close 1000", inOne(closeFrame(1000, "")), closeWith(1000))
	add("7.3.4 close 1000 with a reason", inOne(closeFrame(1000, "Hello World!")), closeWith(1000))
	add("7.3.5 close 1000 with a 123-byte reason", inOne(closeFrame(1000, strings.Repeat("*", 123))),
		closeWith(1000))
	add("7.3.6 close 1000 with a 124-byte reason", inOne(closeFrame(1000, strings.Repeat("*", 124))),
		closeWith(protocolError))
	add("7.3.7 close 1000 with a reason, octet-wise (RFC)", inChops(1, closeFrame(1000, "Hello World!")),
		closeWith(1000))
	add("7.3.8 close 1000 with a reason, frame cut in the header (RFC)",
		inChops(3, closeFrame(1000, "Hello World!")), closeWith(1000))
	add("7.5.1 close with a reason that is not UTF-8", inOne(closeFrame(1000, invalidKosme)),
		closeWith(invalidData))
	for i, code := range []CloseCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		add(fmt.Sprintf("7.7.%d close %d", i+1, code), inOne(closeFrame(code, "")), closeWith(code))
	}
	// Registered with IANA under RFC 6455 section 11.7 (logtaild itself
	// sends 1013); Autobahn has dropped them from its invalid codes.
	for i, code := range []CloseCode{1012, 1013, 1014} {
		add(fmt.Sprintf("7.7.%d close %d (RFC)", 14+i, code), inOne(closeFrame(code, "")), closeWith(code))
	}
	for i, code := range []CloseCode{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 1015} {
		name := fmt.Sprintf("7.9.%d close %d", i+1, code)
		if code == 1015 {
			name += " (RFC)"
		}
		add(name, inOne(closeFrame(code, "")), closeWith(protocolError))
	}
	add("7.9.11 close 1005, octet-wise (RFC)", inChops(1, closeFrame(1005, "")), closeWith(protocolError))
	add("7.13.1 close 5000", inOne(closeFrame(5000, "")), closeWith(protocolError))
	add("7.13.2 close 65535", inOne(closeFrame(65535, "")), closeWith(protocolError))
	return cases
}

// run plays the case on a new connection to the server at addr.
func (tc rfcCase) run(t *testing.T, addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d ws.Dialer
	if tc.deflate {
		d.Extensions = deflateOffer()
	}
	nc, hbr, hs, err := d.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := acceptedDeflate(hs.Extensions); got != tc.deflate {
		t.Fatalf("permessage-deflate negotiated: %v, want %v", got, tc.deflate)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second)) // a case that hangs fails
	var src io.Reader = nc
	if hbr != nil {
		src = io.MultiReader(hbr, nc)
	}
	br := bufio.NewReader(src)
	write := func(b []byte) {
		t.Helper()
		if _, err := nc.Write(b); err != nil {
			t.Fatalf("write: %v", err)
		}
	}

	for _, chunk := range tc.send {
		write(chunk)
	}
	sentClose, afterClose := scanSent(tc.send)
	want := tc.want
	switch {
	case len(want) == 0 || want[len(want)-1].op != ws.OpClose:
		if sentClose {
			t.Fatal("bad case: a connection the client closed cannot stay open")
		}
		// open: a ping is answered, and a close ends it
		write(ping([]byte("still open?")))
		write(closeFrame(1000, ""))
		want = append(slices.Clone(want), pongOf([]byte("still open?")), closeWith(1000))
		sentClose = true
	case !sentClose:
		// A failed connection answers nothing more; a server that wrongly
		// took the bytes sends this pong instead of its close, at once.
		write(ping([]byte("failed already")))
	}

	for i, w := range want {
		got, err := readServerFrame(br)
		if err != nil {
			t.Fatalf("frame %d: %v; want %v (all wanted: %v)", i+1, err, w, want)
		}
		if got.op != w.op || got.op == ws.OpPong && !bytes.Equal(got.payload, w.payload) ||
			got.op == ws.OpClose && got.code != w.code {
			t.Fatalf("frame %d: got %v, want %v (all wanted: %v)", i+1, got, w, want)
		}
	}

	// The close handshake: a client answers a close it did not start, says
	// it has no more to send, and the server must close TCP after its close
	// frame, sending nothing more.
	if !sentClose {
		write(closeFrame(want[len(want)-1].code, ""))
	}
	if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("half-close after the server's close frame: %v (a reset by the server?)", err)
	}
	switch b, err := br.ReadByte(); {
	case err == io.EOF:
	case afterClose && errors.Is(err, syscall.ECONNRESET):
		// The server stops reading at the client's close; what the client
		// sent after it may be unread when the server closes, which resets.
	case err == nil:
		t.Fatalf("byte %#x after the server's close frame, want the end of the connection", b)
	default:
		t.Fatalf("after the server's close frame: %v, want the end of the connection", err)
	}
}

// scanSent reports whether the client's bytes hold a close frame, and any
// bytes after the first.
func scanSent(chunks [][]byte) (sentClose, afterClose bool) {
	r := bytes.NewReader(bytes.Join(chunks, nil))
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return sentClose, false
		}
		if _, err := r.Seek(h.Length, io.SeekCurrent); err != nil {
			return sentClose, false
		}
		if h.OpCode == ws.OpClose {
			return true, r.Len() > 0
		}
	}
}

// readServerFrame reads the next frame the server sends and checks what
// RFC 6455 asks of every server frame: unmasked (section 5.1), final and
// without reserved bits (5.2; the server fragments nothing and negotiates no
// extension), a pong or a close (the owner sends nothing else here), a
// close's code one an endpoint may send (7.4) and its reason UTF-8 (5.5.1).
func readServerFrame(br *bufio.Reader) (reply, error) {
	f, err := ws.ReadFrame(br)
	if err != nil {
		return reply{}, err
	}
	h := f.Header
	switch {
	case h.Masked:
		return reply{}, errors.New("the server masked a frame")
	case !h.Fin || h.Rsv != 0:
		return reply{}, fmt.Errorf("server frame with FIN %v and RSV %d", h.Fin, h.Rsv)
	case h.OpCode == ws.OpPong:
		return pongOf(f.Payload), nil
	case h.OpCode != ws.OpClose:
		return reply{}, fmt.Errorf("server frame with opcode %v", h.OpCode)
	case len(f.Payload) < 2:
		return reply{}, fmt.Errorf("close frame with payload %x, want a code", f.Payload)
	}
	code, reason := ws.ParseCloseFrameData(f.Payload)
	if err := ws.CheckCloseFrameData(code, reason); err != nil && (code < 1012 || code > 1014) {
		return reply{}, fmt.Errorf("server close %d %q: %v", code, reason, err)
	}
	if !utf8.ValidString(reason) {
		return reply{}, fmt.Errorf("server close reason %q is not UTF-8", reason)
	}
	return closeWith(CloseCode(code)), nil
}
