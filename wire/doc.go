// Package wire is logtail's protocol, in one place: a stream's query, its
// messages (lines, events) and positions, how they are encoded and read.
// The daemon (server), the Go client (client), the command line, the
// benchmark tool and the viewer (web/static/viewer.js) all follow this text;
// a third-party client needs nothing else. It imports only the standard
// library.
//
// # Request
//
// A stream is a WebSocket at ws[s]://HOST:PORT/ABSOLUTE/PATH/OF/FILE?QUERY
// (see [Query], [ParseQuery]):
//
//	lines=N     the last N complete lines first (0: none); default 10, capped by the daemon
//	tail=1      then follow the file by name, across rotation and truncation (1, true or
//	            empty; 0 or false); without it the stream closes with 1000 after the last lines
//	format=F    html (default): lines rendered as HTML; text: lines as in the file;
//	            json: one JSON object per message, with positions
//	html=1      with format=json: the lines in their HTML form
//	from=POS    with tail=1: resume right after POS, a position a json message gave;
//	            lines is then ignored
//	grep=RE     only the lines that match RE (RE2, Go's regexp; (?i) for case), the
//	            last lines too (see Filters)
//	exclude=RE  not the lines that match RE; with grep, both apply. Events always pass.
//	            A bad expression is refused with 400 and the parser's message.
//	download=1  over plain HTTP: the whole file as an attachment
//	before=POS  the N lines (lines=N) that end at POS, a position a message gave, then
//	            the stream ends (1000): paging back; not with tail=1 or from=
//
// The path may also name many files (see Many files): a directory, or '*'
// wildcards in its last elements.
//
// Unknown parameters are ignored; a known one given twice, or a value that
// cannot be read, is refused with 400 and a one-line reason.
//
// # Answer
//
// Every answer to a file's URL that passed the token check (the
// handshake's 101, a plain-HTTP stream, a download, a refusal but 401 and
// 421) carries headers about the daemon:
//
//	Logtail-Name: NAME     the daemon's name (logtaild --name, by default its host
//	                       name: a pod's name in Kubernetes), by which a client of many
//	                       daemons names their lines; printable, at most 253 bytes,
//	                       UTF-8 as it is ([HeaderName])
//	Logtail-Max-Lines: M   only when lines= asked for more than the daemon's
//	                       --max-lines: M, the number of lines it applied
//	                       ([HeaderMaxLines])
//
// # Filters
//
// With grep= or exclude=, a line passes when it matches grep (if given) and
// does not match exclude (if given). Both are matched against the line's
// text as a stream shows it (valid UTF-8, a cut line with its mark), without
// its ANSI escape sequences (colours, hyperlinks: what a terminal does not
// show) and without the '\r' of a CRLF line: "\x1b[31mERROR\x1b[0m disk
// full\r" matches grep=^ERROR and grep=full$. The lines sent are as without a
// filter (colours kept as text, or rendered in html). Events always pass.
//
// lines=N is then the last N lines that pass, searched back from the end of
// the file at most the daemon's --max-scan-bytes (64 MiB by default). When
// the search stops there having found fewer, a json stream says so first
// with a scan-limit event, then sends the lines it found; a text or html
// stream cannot say it and only sends them.
//
// In json, positions are kept as without a filter: a message's pos is right
// after its last line, and a line's size counts the bytes of the lines left
// out before it, back to the position given before it, so that
// [Message.LineEnds] holds. Lines read after the last one sent are not in
// that message's pos: while lines are read and none passes, a message with
// no lines and the position reached ({"lines":[],"pos":"POS"}) comes at most
// about once a second. from=POS with the same grep and exclude resumes with
// nothing lost or repeated; the lines left out between POS and the next
// line that passes are read again, and left out again.
//
// # Frames
//
// Text frames only, always valid UTF-8 (invalid bytes become U+FFFD, see
// [AppendValidUTF8]). In html and text a frame is one or more complete
// lines, each ending in '\n'; under load lines share frames of about 32 KiB.
//
// # Messages (format=json)
//
// Every frame is one JSON object ([Message], read by [Decode]):
//
//	{"lines":["…","…"],"sizes":[41,37],"pos":"POS","time":"2026-12-04T15:50:03.123456789Z"}
//	    complete lines, without their '\n' (a '\r' of CRLF stays); pos is the
//	    position right after the last of them. A followed stream's first
//	    message says where it stands, even with no lines ("lines":[]). The
//	    lines of one message are of one file.
//	"sizes":[…]
//	    for each line, the bytes of the file from the end of the line before
//	    it (the previous message's pos for the first) to its own end: line i
//	    ends at pos's offset minus the sizes of the lines after it
//	    ([Message.LineEnds]). Use them, not the text's length, which differs
//	    wherever invalid UTF-8 was replaced or a line was cut. A line shown
//	    cut before its end was written counts 0 and its bytes go to the line
//	    after it. Older daemons send no sizes.
//	…,"partial":"text"
//	    without tail=1 only: the file's last line, which has no newline yet;
//	    it counts as one of the N lines, as in tail.
//	…,"time":"2026-12-04T15:50:03.123456789Z"
//	    on every message of lines (or of a partial line), on no other: when
//	    the daemon read them, RFC 3339 in UTC with nine digits of fraction,
//	    always TimeLen long, so that the text sorts as the time does
//	    ([TimeLayout], [Message.ReadTime]). A followed batch is stamped
//	    once, as it is first sent after the daemon read it, the same for
//	    every client of the file; the last lines and a page, as they are
//	    read for the request. A message of several batches has the last
//	    one's time. A connection's times never go back (a resume's catch-up
//	    may read lines after others were stamped: it gives the later time):
//	    the lines were read by then. Older daemons do not send it.
//	…,"name":"NAME"
//	    on the first message of each connection, whatever it is (lines, a
//	    position, an event): the daemon's name, as in Logtail-Name. Older
//	    daemons do not send it.
//	{"event":"rotated","file":"…","pos":"…"}
//	    the lines that follow come from another file, read from its start: a
//	    new one under the name, or a rotated generation (file says which).
//	{"event":"truncated","file":"…","reason":"…","pos":"…"}
//	    the file was cut; reading goes on from its start, after the unread
//	    lines it held (from its copy, when copytruncate left one).
//	{"event":"gap","reason":"…","file":"…","bytes":N,"pos":"…"}
//	    lines could not be delivered: a loss is always said. bytes is how
//	    many are known lost, when known; file the file concerned.
//	{"event":"scan-limit","reason":"…","bytes":N,"pos":"…"}
//	    with a filter and lines=N, first: the search for the last N lines
//	    that pass stopped at the daemon's --max-scan-bytes (bytes: how far
//	    back from the end it searched) before it found N; older lines were
//	    not searched. The lines it found follow from pos (absent when no
//	    line boundary lay within that many bytes).
//
// Events are [EventRotated], [EventTruncated], [EventGap] and
// [EventScanLimit]; a client ignores fields and events it does not know.
//
// # Positions
//
// A position is DEV:INO:bBORN.ASOF.HEAD:OFFSET ([Position]): the file's
// device and inode; its birth time (0 where the file system keeps none), so
// that a new file under a reused inode is another file; the file's change
// time when the position was made (or, once another file has come under
// the name, that file's birth time, if earlier); a checksum (FNV-64a, hexadecimal) of its
// first min(OFFSET, 64) bytes, so that a file truncated and written again is
// other content; and the byte offset. The older form DEV:INO:OFFSET is still
// accepted. Clients treat positions as opaque but for the offset, the last
// field ([OffsetOf]).
//
// from=POS continues right after POS with no line lost or repeated, also
// after the daemon restarted: the position names the file, not anything the
// daemon remembers. Lines written since, in that file and in the files that
// came under the name after it, are sent in order; what is gone is a gap
// event.
//
// # Many files
//
// A path that is a directory, or has '*' in its elements (filepath.Match
// patterns: /var/log/app/*.log, /var/log/*/access.log), is a stream of
// every regular file it matches inside the daemon's roots, as a single file
// would be checked (a symlink leading out is never followed). Not taken: names
// starting with '.', and rotated generations of another file taken
// (app.log.1, app.log.2.gz, app-20261204.log next to app.log), which are
// read as that file's generations. A pattern matching no file is a stream
// that waits for one (404 only when its directory does not exist); more
// than the daemon's --max-files is refused (400) with the count.
//
// Each file is followed as a single one (across rotation and truncation),
// and lines=N is the last N of each (as tail -n N a.log b.log). In json
// every message has "file", the file's path (as in the URL, wildcards
// resolved), and the position in that file; a followed stream starts with a
// message for every file, even with no lines, so that a client knows where
// each stands. In text, a line "==> PATH <==" (after an empty line, but for
// the first) comes before lines of another file than the last lines' (as
// GNU tail does); in html, that line is <div class="lt-file">==&gt; PATH
// &lt;==</div>. Files that come to match join with a joined event and are
// read from their start; files that go (removed, or renamed out of the
// pattern, for longer than the daemon's grace period) leave with a left
// event.
//
// A client resumes a stream of many files with from=CURSOR ([Cursor]): the
// last pos of each file, by its "file"; "c1." and base64url (no padding) of
// a JSON object from file to position, or "z1." and the same JSON
// compressed with raw deflate (Cursor.String writes that above 4 KiB: a
// cursor of 1,000 files is then about 50 KiB, under the daemon's 64 KiB of
// request headers). Each file resumes as from=POS would;
// a file the cursor does not name (it came to match while the client was
// away) is read from its start; a file the cursor names that no longer
// matches is a left event.
//
// # Paging back
//
// before=POS&lines=N (format=json) answers with one message (several, each
// with start, when it is over about 1 MiB): the N lines that end at POS,
// "pos" POS, and "start" the position where the first of them begins; then
// the stream closes (1000). before=START asks for the page before; a start
// at offset 0 is the file's start. POS may be in the file under the name or
// in a rotated generation that is still there; when its file is gone (or
// was truncated since), or POS is not a line boundary of it, the request is
// refused (404, 400). grep= and exclude= apply: the N lines that pass,
// searched back at most --max-scan-bytes (then "start" is where the search
// stopped, and a scan-limit event comes first); pos is then after the last
// line that passes. In text and html, the lines only. Plain HTTP serves it
// too (text, ndjson, SSE).
//
// # Close codes
//
// 1000 done (the last lines without tail=1), 1001 the daemon is shutting
// down, 1002 protocol error, 1007 invalid UTF-8 from the client, 1008
// policy, 1009 a client message too big, 1011 the file could not be read,
// 1013 the client fell too far behind (reconnect with from= to resume).
// The daemon pings every --heartbeat-interval and drops a connection whose
// pong is later than --heartbeat-timeout; clients answer pings.
//
// # Over plain HTTP
//
// The same URL over http[s]:// without a WebSocket handshake, the same
// query, checks and statuses (the daemon's README, "Over plain HTTP"):
//
//	Accept: text/event-stream   Server-Sent Events: each json message is one
//	                            event, "data: {…}" (one line), "id: POS" its pos
//	                            when it has one, and for a file event
//	                            "event: KIND" (rotated, truncated, gap); lines
//	                            are "message" events. format= changes nothing,
//	                            html=1 applies. Last-Event-ID: POS (EventSource
//	                            sends it when it reconnects) resumes as from=POS
//	                            and wins over it; without tail=1 it is answered
//	                            204, which stops an EventSource. Comments
//	                            (": keep-alive") come every heartbeat interval
//	                            while idle.
//	format=text                 the lines, chunked text/plain; charset=utf-8
//	                            (no events); without tail=1 an unfinished last
//	                            line ends the body without '\n', as in tail
//	format=json                 the json messages, one a line (application/x-ndjson)
//	download=1                  the whole file as an attachment (Range, HEAD,
//	                            If-Modified-Since, If-None-Match)
//
// Without format=, an Accept that names text/plain (application/x-ndjson)
// above text/html asks for the text (ndjson); other requests get the
// viewer page. grep= and exclude= filter as over WebSocket: in json (ndjson,
// events) the scan-limit event, sizes that count the lines left out, and
// a message with only a pos, at most about once a second, while no line
// passes (its id in an event stream). Accept-Encoding: gzip gets the
// stream forms gzipped (Content-Encoding: gzip), flushed with each run of
// lines; the download is not compressed. A stream ends where a WebSocket is closed: after the last
// lines without tail=1 (1000), when the daemon stops (1001) or the client
// fell behind (1013: resume from the last pos); the response then ends
// cleanly. A file that cannot be read (1011) ends it without its last
// chunk.
//
// # Encoding
//
// The daemon builds json messages in place: [LinesStart], [AppendLines] for
// each batch (merged with commas), [AppendSizes], then [AppendLinesEnd] (or
// [LinesEnd], with the file, the page's start, the time from [AppendTime]
// and the name); an event is [AppendEvent]. [AppendString] writes a JSON
// string of valid UTF-8.
package wire
