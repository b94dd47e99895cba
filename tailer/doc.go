// Package tailer reads log files for clients: the last lines of a file
// (LastLines) and, through a Hub, every line appended to it afterwards.
//
// A Hub runs one follower per file name, shared by every subscriber of that
// file: the file is read once, each line is rendered once, and the batches go
// to each subscriber's bounded queue. A subscriber that falls too far behind
// is dropped (ErrSlow) so that it never slows the follower or the others.
//
// A follower reads its file through its own descriptor, in large blocks
// taken from a pool for each pass. It has a goroutine only while it has
// work (an event, a poll, a subscriber's request): an idle follower holds no
// goroutine, no stack and no read buffer, which lets a sidecar follow
// thousands of mostly idle files. It learns
// when to read from github.com/nxadm/tail's shared inotify watcher (a watch
// of the file by its descriptor; one goroutine forwards the tracker's events
// for up to 32 files) and from a watch of its directory, shared by
// every follower there, on the process's own inotify instance (dirwatch.go);
// at most Config.MaxWatches in all. A poll is the safety net: it slows down
// while both watches are live on a local file system, and stays at
// PollInterval for a file without them. It follows the file by name across
// rename, truncation and re-creation.
//
// Filters (grep=, exclude=) are predicates the server gives: Batch.Filter
// keeps a batch's lines that pass, made once per batch and filter for all
// the subscribers that share it; FindLast searches a file back from its end
// for the last lines that pass, within a budget, and LinesEach reads them.
package tailer
