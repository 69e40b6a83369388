package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// haSysProcAttr puts a child of the HA harness in its own process group and
// has the kernel SIGKILL it if the test binary dies, so nothing leaks.
func haSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// haFindChild returns the pid and command line of the only child of this
// process running the executable exe. The HA harness uses it to restart the
// kube-apiserver that localcluster.Start launched, whose process localcluster
// does not expose.
func haFindChild(exe string) (int, []string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	self := os.Getpid()
	var found []int
	var cmdline []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name in parentheses may contain spaces; the parent pid
		// is the second field after it.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) || fields[0] == "Z" {
			continue
		}
		target, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || target != exe {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		found = append(found, pid)
		cmdline = strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	}
	if len(found) != 1 {
		return 0, nil, fmt.Errorf("found %d running children executing %s, want exactly one", len(found), exe)
	}
	return found[0], cmdline, nil
}
