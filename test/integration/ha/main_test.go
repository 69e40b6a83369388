// Package ha tests clusterview deployed for high availability against real
// components: two clusterview-apiserver processes sharing a 3-member etcd
// cluster behind one real kube-apiserver (framework.StartHA). The tests kill
// and restart replicas, etcd members and kube-apiserver and check what a
// replicated deployment promises: both replicas serve, exactly one writes
// statuses, leadership moves when the leader dies, acknowledged writes
// survive an etcd member's loss, informers recover, and shutdown is graceful.
// They log the measured figures as "FIGURE name: value" lines; run with -v to
// see them (docs/high-availability.md quotes them).
//
// Replicas run as separate OS processes built from cmd/apiserver, not in the
// test process: k8s.io/apiserver keeps metrics (among them
// clusterview_status_writes_total, the evidence of who writes statuses),
// feature gates and logging in process-wide globals that two in-process
// servers would share, and only a real process can be SIGKILLed (no deferred
// cleanup, no lease release, connections reset by the kernel) or SIGTERMed
// through the real signal handler and exit with a real status.
package ha

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/clusterview/clusterview/test/integration/framework"
)

// env is shared by the package's tests, which run one after another: each
// test leaves it at full strength again (t.Cleanup calls env.Heal).
var env *framework.HA

// historyResolution is the replicas' --history-resolution. The recording
// promise, at most one missed sample per leader handover, holds when a
// handover (at most 14.4 s with the leader-election defaults) is shorter
// than the resolution, as it is at the default of one minute; 20 s keeps
// that condition and lets TestHistoryAcrossALeaderKill see several samples
// on both sides of a handover within two minutes.
const historyResolution = 20 * time.Second

func TestMain(m *testing.M) {
	os.Exit(framework.RunMain(m, "ha", func(ctx context.Context, dir string) (err error) {
		began := time.Now()
		if env, err = framework.StartHA(ctx, framework.HAOptions{Dir: dir,
			ReplicaFlags: []string{"--history-resolution=" + historyResolution.String()}}); err != nil {
			return err
		}
		fmt.Printf("FIGURE setup (build, 3 etcd members, kube-apiserver, 2 replicas, APIService Available): %v\n", time.Since(began).Round(time.Millisecond))
		return nil
	}, func() { env.Stop() }))
}
