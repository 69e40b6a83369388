package framework

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/clusterview/clusterview/internal/localcluster"
)

// stopGracefully sends SIGTERM to the process alone, as a kubelet does, and
// SIGKILLs it if it has not exited within grace. Unlike Process.Stop it
// reports that a kill was needed: for the HA tests a process that ignores
// SIGTERM is a finding.
func stopGracefully(p *localcluster.Process, grace time.Duration) error {
	if !p.Running() {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if p.WaitExit(grace) {
		return nil
	}
	return errors.Join(fmt.Errorf("%s did not exit within %v of SIGTERM", p.Options().Name, grace), p.Kill())
}

// restartable is a child process of the HA harness that tests stop, kill
// and start again: an etcd member or a clusterview replica. Each run logs
// to its own numbered file, so one run's log never mixes with the next.
type restartable struct {
	name    string // in errors and logs
	logName string // the log file is <logDir>/<logName>.<run>.log
	binary  string
	args    []string
	logDir  string

	mu   sync.Mutex
	proc *localcluster.Process
	runs int
}

// start runs a new process; the previous one must have exited.
func (r *restartable) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil && r.proc.Running() {
		return fmt.Errorf("%s is already running", r.name)
	}
	r.runs++
	p, err := localcluster.StartProcess(localcluster.ProcessOptions{Name: r.name, Path: r.binary, Args: r.args, LogPath: r.logPathLocked()})
	if err != nil {
		return err
	}
	r.proc = p
	return nil
}

func (r *restartable) logPathLocked() string {
	return filepath.Join(r.logDir, fmt.Sprintf("%s.%d.log", r.logName, r.runs))
}

// logPath is the log file of the current (or last) run.
func (r *restartable) logPath() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logPathLocked()
}

// process is the current (or last) run, nil before the first.
func (r *restartable) process() *localcluster.Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

func (r *restartable) running() bool {
	p := r.process()
	return p != nil && p.Running()
}

// exitError describes how the process exited, nil while it runs.
func (r *restartable) exitError() error {
	if p := r.process(); p != nil {
		return p.ExitError()
	}
	return errors.New(r.name + " never started")
}

// kill SIGKILLs the process and waits until it is gone.
func (r *restartable) kill() error {
	if p := r.process(); p != nil {
		return p.Kill()
	}
	return nil
}

// stop stops the process with stopGracefully.
func (r *restartable) stop(grace time.Duration) error {
	if p := r.process(); p != nil {
		return stopGracefully(p, grace)
	}
	return nil
}
