package ha

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	typed "github.com/clusterview/clusterview/pkg/generated/clientset/versioned/typed/clusterview/v1beta1"
)

// etcdTestLabel marks the objects of TestEtcdMemberLoss.
const etcdTestLabel = "clusterview-ha-test/etcd"

// TestEtcdMemberLoss writes ClusterSummaries through both replicas,
// SIGKILLs the etcd leader part-way, and keeps writing from four writers. Every write
// that was acknowledged, before, during or after the loss, must be readable
// on both replicas afterwards; writes must keep succeeding with two of three
// members; and the killed member, restarted on its data directory, must
// catch up.
func TestEtcdMemberLoss(t *testing.T) {
	ctx := t.Context()
	healAfter(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := direct(t, env.B).ClusterSummaries().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: etcdTestLabel}); err != nil {
			t.Logf("deleting the test's ClusterSummaries: %v", err)
		}
	})
	const (
		before     = 20               // writes on the healthy cluster
		afterGoal  = 30               // successful writes wanted after the loss
		afterLimit = 200              // attempts allowed after the loss
		afterTime  = 60 * time.Second // time allowed after the loss
		perWrite   = 15 * time.Second // client timeout of one write
		writers    = 4                // concurrent writers after the loss
		keyPrefix  = "/registry/clusterview.io/"
		settleTime = 120 * time.Second // for the restarted member to catch up
	)
	clients := []typed.ClusterviewV1beta1Interface{direct(t, env.A), direct(t, env.B)}
	type write struct {
		name       string
		start, end time.Time
		err        error
	}
	var (
		mu     sync.Mutex
		writes []write
		n      int
	)
	writeOne := func() write {
		mu.Lock()
		i := n
		n++
		mu.Unlock()
		name := fmt.Sprintf("ha-etcd-%03d", i)
		cs := selectingSummary(name, "etcd")
		cs.Labels = map[string]string{etcdTestLabel: "loss"}
		wctx, cancel := context.WithTimeout(ctx, perWrite)
		defer cancel()
		w := write{name: name, start: time.Now()}
		_, w.err = clients[i%2].ClusterSummaries().Create(wctx, cs, metav1.CreateOptions{})
		w.end = time.Now()
		mu.Lock()
		writes = append(writes, w)
		mu.Unlock()
		return w
	}

	for range before {
		if w := writeOne(); w.err != nil {
			t.Fatalf("write %s on the healthy cluster: %v", w.name, w.err)
		}
	}

	victim, err := env.Etcd.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Kill the leader while writes are on their way. Several writers, each
	// writing one object after another: a write stuck on the dead leader
	// must not hide whether new writes go through.
	killedAt := time.Now()
	killed := make(chan error, 1)
	go func() { killed <- victim.Kill() }()
	var okAfter, failedAfter int
	var wg sync.WaitGroup
	var elected time.Duration
	var probe write
	wg.Go(func() {
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, afterTime, true, func(ctx context.Context) (bool, error) {
			lead, err := env.Etcd.Leader(ctx)
			return err == nil && lead != victim, nil
		})
		if err == nil {
			elected = time.Since(killedAt)
			// A write sent once the survivors have a leader, while the
			// writers may still be stuck on the dead one.
			probe = writeOne()
		}
	})
	for range writers {
		wg.Go(func() {
			for {
				mu.Lock()
				done := okAfter >= afterGoal || n-before >= afterLimit || time.Since(killedAt) >= afterTime
				mu.Unlock()
				if done {
					return
				}
				w := writeOne()
				mu.Lock()
				if w.err != nil {
					failedAfter++
				} else {
					okAfter++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILLed etcd %s, the leader, after %d acknowledged writes", victim.Name, before)
	slices.SortFunc(writes, func(a, b write) int { return a.start.Compare(b.start) })
	var firstOK time.Time
	var maxLatency time.Duration
	for _, w := range writes[before:] {
		maxLatency = max(maxLatency, w.end.Sub(w.start))
		if w.err != nil {
			t.Logf("write %s, started %v after the loss, failed after %v: %d %s: %v", w.name, w.start.Sub(killedAt).Round(time.Millisecond),
				w.end.Sub(w.start).Round(time.Millisecond), httpCode(w.err), apierrors.ReasonForError(w.err), w.err)
		} else if firstOK.IsZero() || w.end.Before(firstOK) {
			firstOK = w.end
		}
	}
	figure(t, "writes after the etcd leader's loss: succeeded, failed", []int{okAfter, failedAfter})
	if elected == 0 {
		t.Errorf("the surviving etcd members elected no leader within %v", afterTime)
	}
	figure(t, "etcd leader loss to a new leader elected (etcd_server_is_leader)", elected)
	if probe.name != "" {
		figure(t, "a write sent right after the election: latency, error", fmt.Sprintf("%v, %v", probe.end.Sub(probe.start).Round(time.Millisecond), probe.err))
	}
	if !firstOK.IsZero() {
		figure(t, "etcd leader loss to first acknowledged write", firstOK.Sub(killedAt))
	}
	figure(t, "slowest write after the etcd leader's loss", maxLatency)
	if okAfter < afterGoal {
		t.Errorf("only %d writes succeeded in %d attempts and %v after losing one of three etcd members, want %d",
			okAfter, n-before, time.Since(killedAt).Round(time.Second), afterGoal)
	}
	// Writes keep succeeding: once one went through again, every write
	// started after it must too.
	for _, w := range writes[before:] {
		if w.err != nil && !firstOK.IsZero() && w.start.After(firstOK) {
			t.Errorf("write %s failed after writes had recovered: %v", w.name, w.err)
		}
	}

	// Every acknowledged write is there, on both replicas, with 2/3 members.
	for _, w := range writes {
		if w.err != nil {
			continue
		}
		for i, c := range clients {
			if _, err := c.ClusterSummaries().Get(ctx, w.name, metav1.GetOptions{}); err != nil {
				t.Errorf("acknowledged write %s not readable on replica %s: %v", w.name, env.Replicas()[i].Name, err)
			}
		}
	}
	for i, c := range clients {
		list, err := c.ClusterSummaries().List(ctx, metav1.ListOptions{LabelSelector: etcdTestLabel})
		if err != nil {
			t.Fatalf("list on replica %s: %v", env.Replicas()[i].Name, err)
		}
		have := map[string]bool{}
		for _, cs := range list.Items {
			have[cs.Name] = true
		}
		for _, w := range writes {
			if w.err == nil && !have[w.name] {
				t.Errorf("list on replica %s lacks acknowledged write %s", env.Replicas()[i].Name, w.name)
			}
		}
		// A failed write may or may not have been applied (its answer was
		// lost); report which.
		for _, w := range writes {
			if w.err != nil && i == 0 {
				t.Logf("failed write %s stored anyway: %v", w.name, have[w.name])
			}
		}
	}

	// The killed member restarts on its data and catches up.
	restarted := time.Now()
	if err := victim.Restart(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	figure(t, "killed etcd member healthy again after restart", time.Since(restarted))
	var victimKeys, leaderKeys int64
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, settleTime, true, func(ctx context.Context) (bool, error) {
		lead, err := env.Etcd.Leader(ctx)
		if err != nil {
			return false, nil
		}
		if leaderKeys, err = lead.CountKeys(ctx, keyPrefix); err != nil {
			return false, nil
		}
		if victimKeys, err = victim.CountKeys(ctx, keyPrefix); err != nil {
			return false, nil
		}
		return victimKeys == leaderKeys, nil
	})
	if err != nil {
		t.Errorf("the restarted member holds %d keys under %s, the leader %d", victimKeys, keyPrefix, leaderKeys)
	}
	figure(t, "restarted etcd member caught up (same key count as the leader)", time.Since(restarted))
	if err := env.Etcd.WaitHealthy(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// httpCode is the HTTP status of an API error, 0 for other errors.
func httpCode(err error) int32 {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Code
	}
	return 0
}
