package localcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// killWait bounds how long stop waits for the kernel to reap a SIGKILLed process.
const killWait = 10 * time.Second

// process is one child process whose output goes to a log file.
type process struct {
	name    string
	logPath string
	// logOffset is where this run's output starts in logPath, which may hold the
	// output of earlier runs in the same cluster directory.
	logOffset int64
	logger    klog.Logger
	cmd       *exec.Cmd

	stopping atomic.Bool
	exited   chan struct{} // closed once the process has been reaped
	waitErr  error         // valid after exited is closed
}

// startProcess starts path with args, appending its stdout and stderr to logPath.
func startProcess(logger klog.Logger, name, path string, args []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log file for %s: %w", name, err)
	}
	// A header makes restarts in the same directory (appended logs) easy to tell apart.
	fmt.Fprintf(logFile, "=== %s: %s %s\n", time.Now().UTC().Format(time.RFC3339), path, strings.Join(args, " "))
	offset, err := logFile.Seek(0, io.SeekCurrent)
	if err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("reading log file position for %s: %w", name, err)
	}

	cmd := exec.Command(path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	p := &process{
		name:      name,
		logPath:   logPath,
		logOffset: offset,
		logger:    logger.WithValues("process", name),
		cmd:       cmd,
		exited:    make(chan struct{}),
	}

	started := make(chan error, 1)
	go func() {
		// Linux delivers Pdeathsig when the *thread* that forked the child exits, not
		// the process, and the Go runtime may retire threads. Holding this goroutine on
		// its thread until the child is reaped keeps that thread alive for exactly the
		// child's lifetime.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		if !p.stopping.Load() {
			p.logger.Error(p.waitErr, "Process exited unexpectedly", "pid", cmd.Process.Pid, "log", logPath,
				"tail", p.logTail(20))
		}
		close(p.exited)
	}()
	if err := <-started; err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	p.logger.V(1).Info("Started process", "pid", cmd.Process.Pid, "log", logPath)
	return p, nil
}

// exitError returns a descriptive error if the process has already exited, or nil.
func (p *process) exitError() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited early (%v); last lines of %s:\n%s", p.name, p.waitErr, p.logPath, p.logTail(30))
	default:
		return nil
	}
}

// stop sends SIGTERM to the process group, then SIGKILL if the process has not exited
// within grace. It is safe to call more than once.
func (p *process) stop(grace time.Duration) error {
	p.stopping.Store(true)
	select {
	case <-p.exited:
		return nil
	default:
	}
	pid := p.cmd.Process.Pid
	p.logger.V(1).Info("Stopping process", "pid", pid, "grace", grace)
	if err := signalGroup(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("sending SIGTERM to %s: %w", p.name, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	}
	p.logger.Info("Process did not exit after SIGTERM, sending SIGKILL", "pid", pid, "grace", grace)
	if err := signalGroup(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("sending SIGKILL to %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("%s (pid %d) still running %v after SIGKILL", p.name, pid, killWait)
	}
}

// signalGroup signals the child's whole process group (its pgid equals its pid because
// of Setpgid), so helpers it may have spawned go down with it.
func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		// Exited between our check and the signal.
		return nil
	}
	return err
}

// logTail returns up to the last n lines this run wrote to its log, for error messages.
func (p *process) logTail(n int) string {
	return tailFile(p.logPath, p.logOffset, n)
}

// tailFile returns up to the last n lines of the file at path, ignoring the first
// offset bytes.
func tailFile(path string, offset int64, n int) string {
	const maxBytes = 64 << 10
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		offset = max(offset, st.Size()-maxBytes)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
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
