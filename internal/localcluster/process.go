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

// killWait bounds how long a stop waits for the kernel to reap a SIGKILLed process.
const killWait = 10 * time.Second

// ProcessOptions says what StartProcess runs.
type ProcessOptions struct {
	// Name names the process in logs and errors.
	Name string
	Path string
	Args []string
	// Env is added to this process's environment.
	Env []string
	// LogPath receives the process's stdout and stderr, after a header line
	// with the command line.
	LogPath string
	// AppendLog keeps what LogPath already holds (restarts in one directory);
	// LogTail still reads only this run's output. Otherwise LogPath is
	// truncated.
	AppendLog bool
	// Logger reports the start and an exit nobody asked for; the zero value
	// discards.
	Logger klog.Logger
}

// Process is a child process bound to this one's lifetime. It runs in its
// own process group, so a terminal's Ctrl-C reaches only the parent, which
// stops its children in order; on Linux the kernel SIGKILLs it if the parent
// dies, so a killed test or tool leaks nothing. localcluster runs etcd and
// kube-apiserver as Processes; the HA harness, the benchmark and local-up run
// theirs the same way.
type Process struct {
	opts ProcessOptions
	// logOffset is where this run's output starts in LogPath.
	logOffset int64
	logger    klog.Logger
	cmd       *exec.Cmd

	stopping atomic.Bool   // an exit from now on was asked for
	exited   chan struct{} // closed once the process has been reaped
	waitErr  error         // valid after exited is closed
}

// StartProcess starts a process and returns once it runs.
// It fails with ErrNoProcesses while NoProcessesEnv is set.
func StartProcess(opts ProcessOptions) (*Process, error) {
	if err := processesAllowed("starting " + opts.Name); err != nil {
		return nil, err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if opts.AppendLog {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	logFile, err := os.OpenFile(opts.LogPath, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the log file of %s: %w", opts.Name, err)
	}
	// The header tells the runs apart in an appended log.
	if _, err := fmt.Fprintf(logFile, "=== %s: %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), opts.Path, strings.Join(opts.Args, " ")); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("writing the log file of %s: %w", opts.Name, err)
	}
	offset, err := logFile.Seek(0, io.SeekCurrent)
	if err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("reading the log file position of %s: %w", opts.Name, err)
	}

	// Not CommandContext: stopping is the caller's to order, SIGTERM first.
	cmd := exec.Command(opts.Path, opts.Args...)
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	p := &Process{
		opts:      opts,
		logOffset: offset,
		logger:    opts.Logger.WithValues("process", opts.Name),
		cmd:       cmd,
		exited:    make(chan struct{}),
	}

	started := make(chan error, 1)
	go func() {
		// Linux delivers Pdeathsig when the *thread* that forked the child
		// exits, not the process, and the Go runtime may retire threads.
		// Holding this goroutine on its thread until the child is reaped
		// keeps that thread alive for exactly the child's lifetime.
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
			p.logger.Error(p.waitErr, "Process exited unexpectedly", "pid", cmd.Process.Pid, "log", opts.LogPath,
				"tail", p.LogTail(20))
		}
		close(p.exited)
	}()
	if err := <-started; err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", opts.Name, opts.Path, err)
	}
	p.logger.V(1).Info("Started process", "pid", cmd.Process.Pid, "log", opts.LogPath)
	return p, nil
}

// Options returns what the process was started with, to start it again.
func (p *Process) Options() ProcessOptions { return p.opts }

// PID is the process id, which is also its process group id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.exited }

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// ExitError describes how the process exited, with the end of its log, or
// returns nil while it runs.
func (p *Process) ExitError() error {
	if p.Running() {
		return nil
	}
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.opts.Name, p.waitErr, p.opts.LogPath, p.LogTail(30))
}

// ExitCode is the exit status once the process has exited, -1 while it runs
// or when a signal ended it.
func (p *Process) ExitCode() int {
	if p.Running() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// WaitExit waits up to timeout for the process to exit and reports whether it did.
func (p *Process) WaitExit(timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return true
	case <-timer.C:
		return false
	}
}

// Signal sends sig to the process alone (not its group), as a kubelet does
// to a container's main process. The exit that may follow is expected.
func (p *Process) Signal(sig syscall.Signal) error {
	p.stopping.Store(true)
	if err := ignoreGone(syscall.Kill(p.PID(), sig)); err != nil {
		return fmt.Errorf("sending %v to %s: %w", sig, p.opts.Name, err)
	}
	return nil
}

// Kill SIGKILLs the process group and waits until the process is reaped.
func (p *Process) Kill() error {
	p.stopping.Store(true)
	if !p.Running() {
		return nil
	}
	if err := ignoreGone(syscall.Kill(-p.PID(), syscall.SIGKILL)); err != nil {
		return fmt.Errorf("sending SIGKILL to %s: %w", p.opts.Name, err)
	}
	if !p.WaitExit(killWait) {
		return fmt.Errorf("%s (pid %d) still running %v after SIGKILL", p.opts.Name, p.PID(), killWait)
	}
	return nil
}

// Stop sends SIGTERM to the process group, then SIGKILL if the process has
// not exited within grace. It is safe to call more than once.
func (p *Process) Stop(grace time.Duration) error {
	p.stopping.Store(true)
	if !p.Running() {
		return nil
	}
	p.logger.V(1).Info("Stopping process", "pid", p.PID(), "grace", grace)
	if err := ignoreGone(syscall.Kill(-p.PID(), syscall.SIGTERM)); err != nil {
		return fmt.Errorf("sending SIGTERM to %s: %w", p.opts.Name, err)
	}
	if p.WaitExit(grace) {
		return nil
	}
	p.logger.Info("Process did not exit after SIGTERM, sending SIGKILL", "pid", p.PID(), "grace", grace)
	return p.Kill()
}

// ignoreGone drops the error of signalling a process that has exited in between.
func ignoreGone(err error) error {
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// LogTail returns up to the last n lines this run wrote to its log.
func (p *Process) LogTail(n int) string {
	return tailFile(p.opts.LogPath, p.logOffset, n)
}

// LogTail returns up to the last n lines of the log file at path, for error
// messages.
func LogTail(path string, n int) string { return tailFile(path, 0, n) }

// tailFile returns up to the last n lines of the file at path, ignoring the first
// offset bytes.
func tailFile(path string, offset int64, n int) string {
	const maxBytes = 64 << 10
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer func() { _ = f.Close() }() // read only: nothing is lost
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
