package main

import (
	"io"
	"os"
	"syscall"
)

// watchOutput calls gone, from its own goroutine, once w can no longer be
// written because its reader went away: w is a pipe or a socket, and its
// reader exited (a "| head -1" that has its line). The kernel says so at
// once, as an error or a hang-up on w, without a write: logtail ends then,
// on an idle log too, as GNU tail -f does. Anything else (a terminal, a
// file, a buffer) is not watched. stop ends the watch and waits for it.
func watchOutput(w io.Writer, gone func()) (stop func()) {
	nothing := func() {}
	f, ok := w.(*os.File)
	if !ok {
		return nothing
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return nothing
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return nothing
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nothing
	}
	var wake [2]int // written by stop
	if err := syscall.Pipe2(wake[:], syscall.O_CLOEXEC); err != nil {
		syscall.Close(ep)
		return nothing
	}
	closeAll := func() {
		syscall.Close(ep)
		syscall.Close(wake[0])
		syscall.Close(wake[1])
	}
	const outFd, wakeFd = 0, 1 // told apart by the events' data
	// no events asked of w: EPOLLERR and EPOLLHUP are always reported
	err = sc.Control(func(fd uintptr) {
		err = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, int(fd), &syscall.EpollEvent{Fd: outFd})
	})
	if err == nil {
		err = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, wake[0], &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeFd})
	}
	if err != nil {
		closeAll()
		return nothing
	}
	done := make(chan struct{})
	go func() { // owned by stop, which wakes it and waits
		defer close(done)
		events := make([]syscall.EpollEvent, 2)
		for {
			n, err := syscall.EpollWait(ep, events, -1)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return
			}
			for _, e := range events[:n] {
				if e.Fd == wakeFd {
					return
				}
			}
			if n > 0 {
				gone()
				return
			}
		}
	}()
	return func() {
		syscall.Write(wake[1], []byte{0})
		<-done
		closeAll()
	}
}
