package wsconn

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// putHeader must write what gobwas/ws writes for the same frame, at each
// boundary of the three length forms.
func TestPutHeaderMatchesLibrary(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20} {
		for _, op := range []ws.OpCode{ws.OpText, ws.OpPing, ws.OpClose} {
			msg := make([]byte, HeaderRoom+n)
			start := putHeader(msg, op, n)
			var want bytes.Buffer
			if err := ws.WriteHeader(&want, ws.Header{Fin: true, OpCode: op, Length: int64(n)}); err != nil {
				t.Fatal(err)
			}
			if got := msg[start:HeaderRoom]; !bytes.Equal(got, want.Bytes()) {
				t.Errorf("op %v, %d bytes: header %x, want %x", op, n, got, want.Bytes())
			}
		}
	}
}
