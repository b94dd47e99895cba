// Package tailer reads log files for clients: the last lines of a file
// (LastLines) and, through a Hub, every line appended to it afterwards.
//
// A Hub runs one follower per file name, shared by every subscriber of that
// file: the file is read once, each line is rendered once, and the batches go
// to each subscriber's bounded queue. A subscriber that falls too far behind
// is dropped (ErrSlow) so that it never slows the follower or the others.
//
// A follower reads its file through its own descriptor, in large blocks, and
// uses github.com/nxadm/tail's shared inotify watcher (one inotify instance for
// the whole process) to learn when to read, plus a slow poll as a safety net.
// It follows the file by name across rename, truncation and re-creation.
//
// Filters (grep=, exclude=) are predicates the server gives: Batch.Filter
// keeps a batch's lines that pass, made once per batch and filter for all
// the subscribers that share it; FindLast searches a file back from its end
// for the last lines that pass, within a budget, and LinesEach reads them.
package tailer
