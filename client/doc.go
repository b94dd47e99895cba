// Package client follows logtaild streams from Go: it dials a stream URL in
// format=json, hands each message (lines or a file event, see package wire)
// to the caller in order, remembers the position after the last one, and,
// when asked, reconnects with backoff and resumes from there, so that no line
// is lost or repeated across dropped connections and daemon restarts.
//
// A URL may name many files (a directory, or '*' in its path): each message
// then names its file (wire.Message.File), files join and leave with events,
// and the stream keeps a cursor, the position in each file
// ([Stream.Cursor]), from which it resumes them all.
//
// Many daemons serve one name when it is a Kubernetes headless Service:
// [Discovery] looks up its addresses (A and AAAA, or SRV records),
// [Stream.Addr] connects to one of them (the name kept for Host and TLS),
// [Group] runs streams that come and go with one handler, and [Merge] puts
// their messages in the order of the daemons' time (wire.Message.Time),
// within a window.
//
// The entry points are [Stream.Run] for one URL and [FollowAll] for several
// at once. The logtail command is this package's first user.
package client
