package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat times; 100 on Linux.
const clockTick = 100

// procTree returns pid and all its descendants, found through /proc.
func procTree(roots ...int) []int {
	ents, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			children[st.ppid] = append(children[st.ppid], pid)
		}
	}
	var out []int
	queue := append([]int{}, roots...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p <= 0 {
			continue
		}
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out
}

type procStat struct {
	ppid int
	// user+system ticks of the process and of its waited-for children
	ticks int64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var st procStat
	st.ppid, _ = strconv.Atoi(string(f[1]))
	for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, _ := strconv.ParseInt(string(f[k]), 10, 64)
		st.ticks += v
	}
	return st, nil
}

// cpuTicks sums the CPU time of the given processes and their children.
func cpuTicks(pids []int) int64 {
	var sum int64
	for _, p := range procTree(pids...) {
		if st, err := readStat(p); err == nil {
			sum += st.ticks
		}
	}
	return sum
}

// memory of a process tree, in KiB.
type memory struct {
	RSS, HWM, PSS int64
}

func memoryOf(pids []int) memory {
	var m memory
	for _, p := range procTree(pids...) {
		dir := filepath.Join("/proc", strconv.Itoa(p))
		if b, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
			m.RSS += kbField(b, "VmRSS:")
			m.HWM += kbField(b, "VmHWM:")
		}
		if b, err := os.ReadFile(filepath.Join(dir, "smaps_rollup")); err == nil {
			m.PSS += kbField(b, "Pss:")
		}
	}
	return m
}

// kbField reads "Name:   123 kB" from a /proc file.
func kbField(b []byte, name string) int64 {
	i := bytes.Index(b, []byte("\n"+name))
	if i < 0 {
		if !bytes.HasPrefix(b, []byte(name)) {
			return 0
		}
		i = -1
	}
	rest := b[i+1+len(name):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	f := bytes.Fields(rest)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return v
}

// pinSelf binds every thread of this process (and so the threads it starts
// later) to cpus, a taskset list such as "0" or "0-1".
func pinSelf(cpus string) error {
	if cpus == "" {
		return nil
	}
	out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset -c %s: %w: %s", cpus, err, bytes.TrimSpace(out))
	}
	return nil
}

// pinned prefixes argv with taskset when cpus is set.
func pinned(cpus string, argv ...string) []string {
	if cpus == "" {
		return argv
	}
	return append([]string{"taskset", "-c", cpus}, argv...)
}

// cpuNanos sums the CPU time, in ns, of every thread of the given processes
// and their children, from /proc/PID/task/TID/schedstat: the precise
// counterpart of cpuTicks (whose 10 ms ticks are coarse for a run of
// 50 ms of server CPU). Threads that ended during the run are not counted;
// a Go server keeps its threads.
func cpuNanos(pids []int) int64 {
	var sum int64
	for _, p := range procTree(pids...) {
		tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(p), "task", "*", "schedstat"))
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			if f := bytes.Fields(b); len(f) > 0 {
				v, _ := strconv.ParseInt(string(f[0]), 10, 64)
				sum += v
			}
		}
	}
	return sum
}
