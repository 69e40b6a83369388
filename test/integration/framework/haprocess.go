package framework

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// haReapTimeout bounds how long the HA harness waits for the kernel to reap
// a process it has SIGKILLed.
const haReapTimeout = 10 * time.Second

// haProcess is a child process of the HA harness (an etcd member, a
// clusterview replica or a restarted kube-apiserver) writing to its own log
// file. Unlike localcluster's processes, the harness also kills them on
// purpose, with SIGKILL or SIGTERM, and inspects how they exited.
type haProcess struct {
	name    string
	logPath string
	cmd     *exec.Cmd

	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // valid after exited is closed
}

// startHAProcess starts path with args in its own process group, with its
// output in logPath (truncated: one file per run keeps each run's log apart).
// On Linux the child is SIGKILLed if the test binary dies.
func startHAProcess(name, path string, args []string, logPath string) (*haProcess, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log file for %s: %w", name, err)
	}
	fmt.Fprintf(logFile, "=== %s: %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), path, strings.Join(args, " "))
	cmd := exec.Command(path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = haSysProcAttr()
	p := &haProcess{name: name, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits; keep
		// this goroutine on its thread for the child's whole life.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	return p, nil
}

// pid is the process id, which is also its process group id.
func (p *haProcess) pid() int { return p.cmd.Process.Pid }

// running reports whether the process has not exited yet.
func (p *haProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitError describes an early exit, or returns nil while the process runs.
func (p *haProcess) exitError() error {
	if p.running() {
		return nil
	}
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, p.waitErr, p.logPath, haTailFile(p.logPath, 30))
}

// exitCode is the exit status once the process has exited: -1 if a signal
// ended it.
func (p *haProcess) exitCode() int {
	if p.running() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// signal sends sig to the process only (not its group).
func (p *haProcess) signal(sig syscall.Signal) error {
	err := syscall.Kill(p.pid(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// kill SIGKILLs the process group and waits until the process is reaped.
func (p *haProcess) kill() error {
	if !p.running() {
		return nil
	}
	if err := syscall.Kill(-p.pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(haReapTimeout):
		return fmt.Errorf("%s (pid %d) still running %v after SIGKILL", p.name, p.pid(), haReapTimeout)
	}
}

// waitExit waits up to timeout for the process to exit and reports whether
// it did.
func (p *haProcess) waitExit(timeout time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// stop sends SIGTERM, and SIGKILL if the process has not exited after grace.
func (p *haProcess) stop(grace time.Duration) error {
	if !p.running() {
		return nil
	}
	if err := p.signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("sending SIGTERM to %s: %w", p.name, err)
	}
	if p.waitExit(grace) {
		return nil
	}
	return errors.Join(fmt.Errorf("%s did not exit within %v of SIGTERM", p.name, grace), p.kill())
}

// haTailFile returns up to the last n lines of the file at path.
func haTailFile(path string, n int) string {
	const maxBytes = 64 << 10
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		if _, err := f.Seek(st.Size()-maxBytes, io.SeekStart); err != nil {
			return fmt.Sprintf("(cannot read %s: %v)", path, err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
