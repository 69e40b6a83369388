//go:build unix && !linux

package localcluster

import "syscall"

// sysProcAttr puts the child in its own process group, so a terminal's Ctrl-C reaches
// only the parent (which then stops the children in order). Only Linux can also tie
// the child's life to its parent's; elsewhere a killed parent leaves the children
// running until they are killed by hand.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
