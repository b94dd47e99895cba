// Paging back: before=POS&lines=N, the N lines that end at POS.

package server

import (
	"net/http"

	"github.com/logtail/logtail/wire"
)

// before answers before=POS&lines=N (see wire's "Paging back") in any
// form: one json message with lines, pos and start (or the lines alone in
// text and html), then the end of the stream.
func (d *Daemon) before(w http.ResponseWriter, r *http.Request, name string, q wire.Query, form httpForm) {
	d.refuseStream(w, r, http.StatusNotImplemented, "before= is not served yet")
}
