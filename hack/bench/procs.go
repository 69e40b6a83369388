package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a long-running process the benchmark started (clusterview,
// kube-state-metrics), with its output in a log file.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

func startChild(name, logPath, path string, args ...string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// Not CommandContext: stopping is ours to order, SIGTERM first.
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group (a terminal's Ctrl-C reaches only us, and we stop the
	// children in order); SIGKILL if we die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c := &child{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking *thread* exits; keep this one for
		// the child's lifetime.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exitErr is non-nil once the process has exited.
func (c *child) exitErr() error {
	select {
	case <-c.exited:
		return fmt.Errorf("%s exited: %v (log: %s)", c.name, c.waitErr, c.logPath)
	default:
		return nil
	}
}

// stop sends SIGTERM and SIGKILL after grace. Idempotent.
func (c *child) stop(grace time.Duration) {
	if c == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGTERM)
	select {
	case <-c.exited:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
	}
}

// procStat is what the benchmark reads of a process from /proc.
type procStat struct {
	// CPU is user plus system time.
	CPU time.Duration
	// RSS is VmRSS, HWM is VmHWM (the peak RSS), both in bytes.
	RSS, HWM int64
}

// clockTicks is USER_HZ, which is 100 on every Linux architecture Go runs on
// (sysconf(_SC_CLK_TCK) without cgo).
const clockTicks = 100

func readProc(pid int) (procStat, error) {
	var st procStat
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// comm may contain spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return st, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is state (field 3); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return st, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return st, err
	}
	st.CPU = time.Duration(utime+stime) * time.Second / clockTicks

	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &st.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &st.HWM
		default:
			continue
		}
		fs := strings.Fields(line)
		if len(fs) >= 2 {
			kb, _ := strconv.ParseInt(fs[1], 10, 64)
			*dst = kb << 10
		}
	}
	return st, sc.Err()
}

// childPIDs finds the direct children of this process whose executable has
// the given base name: localcluster starts etcd and kube-apiserver without
// telling their pids.
func childPIDs(name string) []int {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(data, ')')
		j := bytes.IndexByte(data, '(')
		if i < 0 || j < 0 {
			continue
		}
		fields := strings.Fields(string(data[i+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if string(data[j+1:i]) == name || filepath.Base(exe) == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// usage measures a process's CPU time over an interval.
type usage struct {
	start procStat
	at    time.Time
}

func beginUsage(pid int) usage {
	st, _ := readProc(pid)
	return usage{start: st, at: time.Now()}
}

// since returns the CPU time used since u began, the current stats, and the
// wall time elapsed.
func (u usage) since(pid int) (cpu time.Duration, now procStat, wall time.Duration) {
	now, _ = readProc(pid)
	return now.CPU - u.start.CPU, now, time.Since(u.at)
}
