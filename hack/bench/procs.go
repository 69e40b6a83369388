package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// procStat is what the benchmark reads of a process from /proc.
type procStat struct {
	// CPU is user plus system time.
	CPU time.Duration
	// RSS is VmRSS, HWM is VmHWM (the peak RSS), both in bytes.
	RSS, HWM int64
	// RSSAnon and RSSFile split VmRSS (with RssShmem, which Go processes
	// barely use): anonymous pages (the Go heap and its headroom, stacks)
	// and pages mapped from files (the binary, and an embedded etcd's
	// memory-mapped database), in bytes.
	RSSAnon, RSSFile int64
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
	defer func() { _ = f.Close() }() // read only: nothing is lost
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &st.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &st.HWM
		case strings.HasPrefix(line, "RssAnon:"):
			dst = &st.RSSAnon
		case strings.HasPrefix(line, "RssFile:"):
			dst = &st.RSSFile
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

// readFileRSS splits a process's file-backed RSS by the file mapped, from
// /proc/PID/smaps: for clusterview, its binary and the embedded etcd's
// bbolt database, which etcd maps read-only and reads through. The sizes
// are in bytes, keyed by path.
func readFileRSS(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only: nothing is lost
	byFile, err := parseFileRSS(f)
	if err != nil {
		return nil, fmt.Errorf("reading /proc/%d/smaps: %w", pid, err)
	}
	return byFile, nil
}

// parseFileRSS sums the Rss of every mapping in smaps text by the path
// mapped; anonymous mappings and pseudo-paths ([heap], [stack]) are left
// out.
func parseFileRSS(r io.Reader) (map[string]int64, error) {
	byFile := map[string]int64{}
	current := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		// A mapping's header is "start-end perms offset dev inode [path]";
		// its fields ("Rss:", "Pss:", ...) follow, one per line.
		if strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":") {
			current = ""
			if len(fs) >= 6 && strings.HasPrefix(fs[5], "/") {
				current = fs[5]
			}
			continue
		}
		if current == "" || fs[0] != "Rss:" || len(fs) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil {
			return nil, err
		}
		byFile[current] += kb << 10
	}
	return byFile, sc.Err()
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
