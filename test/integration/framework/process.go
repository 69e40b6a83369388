package framework

import (
	"errors"
	"fmt"
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

// exitError is p.ExitError, or says that the process never started.
func exitError(p *localcluster.Process) error {
	if p == nil {
		return errors.New("never started")
	}
	return p.ExitError()
}
