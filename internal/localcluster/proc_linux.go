package localcluster

import "syscall"

// sysProcAttr puts the child in its own process group, so a terminal's Ctrl-C reaches
// only the parent (which then stops the children in order), and asks the kernel to
// SIGKILL the child when its parent dies, so a killed test binary leaks nothing.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
