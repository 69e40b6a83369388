//go:build unix && !linux

package framework

import (
	"errors"
	"syscall"
)

// haSysProcAttr puts a child of the HA harness in its own process group.
// Only Linux can also tie the child's life to the test binary's.
func haSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// haFindChild needs /proc; the HA harness restarts kube-apiserver only on Linux.
func haFindChild(exe string) (int, []string, error) {
	return 0, nil, errors.New("finding a child process by executable needs Linux's /proc")
}
