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
//	grep=RE     only the lines that match RE (RE2, Go's regexp; (?i) for case)
//	exclude=RE  not the lines that match RE; with grep, both apply. Events always pass.
//	            A bad expression is refused with 400 and the parser's message.
//	download=1  over plain HTTP: the whole file as an attachment
//
// Unknown parameters are ignored; a known one given twice, or a value that
// cannot be read, is refused with 400 and a one-line reason.
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
//	{"lines":["…","…"],"sizes":[41,37],"pos":"POS"}
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
//	{"event":"rotated","file":"…","pos":"…"}
//	    the lines that follow come from another file, read from its start: a
//	    new one under the name, or a rotated generation (file says which).
//	{"event":"truncated","file":"…","reason":"…","pos":"…"}
//	    the file was cut; reading goes on from its start, after the unread
//	    lines it held (from its copy, when copytruncate left one).
//	{"event":"gap","reason":"…","file":"…","bytes":N,"pos":"…"}
//	    lines could not be delivered: a loss is always said. bytes is how
//	    many are known lost, when known; file the file concerned.
//
// Events are [EventRotated], [EventTruncated] and [EventGap]; a client
// ignores fields and events it does not know.
//
// # Positions
//
// A position is DEV:INO:bBORN.ASOF.HEAD:OFFSET ([Position]): the file's
// device and inode; its birth time (0 where the file system keeps none), so
// that a new file under a reused inode is another file; the file's change
// time when the position was made; a checksum (FNV-64a, hexadecimal) of its
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
// # Close codes
//
// 1000 done (the last lines without tail=1), 1001 the daemon is shutting
// down, 1002 protocol error, 1007 invalid UTF-8 from the client, 1008
// policy, 1009 a client message too big, 1011 the file could not be read,
// 1013 the client fell too far behind (reconnect with from= to resume).
// The daemon pings every --heartbeat-interval and drops a connection whose
// pong is later than --heartbeat-timeout; clients answer pings.
//
// # Encoding
//
// The daemon builds json messages in place: [LinesStart], [AppendLines] for
// each batch (merged with commas), [AppendSizes], then [AppendLinesEnd]; an
// event is [AppendEvent]. [AppendString] writes a JSON string of valid
// UTF-8.
package wire
