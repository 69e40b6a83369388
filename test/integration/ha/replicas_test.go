package ha

import (
	"context"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
	typed "github.com/clusterview/clusterview/pkg/generated/clientset/versioned/typed/clusterview/v1beta1"
)

// TestReplicasServeReadsAndWrites: both replicas accept writes, and a write
// acknowledged by one is visible on the other at once (reads go to the
// shared etcd, or to a watch cache that first catches up with it), for get,
// list and watch alike. Both replicas also run the informers: each serves
// NodeSummaries, which exist only in memory.
func TestReplicasServeReadsAndWrites(t *testing.T) {
	ctx := t.Context()
	deleteSummaries(t, "ha-rw-on-a", "ha-rw-on-b")
	healAfter(t)
	a, b := direct(t, env.A), direct(t, env.B)

	// A watch on B opened before anything is written must see A's writes.
	w := watchSummaries(ctx, t, b)

	for _, c := range []struct {
		writer, reader typed.ClusterviewV1beta1Interface
		from, to, name string
	}{
		{a, b, "A", "B", "ha-rw-on-a"},
		{b, a, "B", "A", "ha-rw-on-b"},
	} {
		created, err := c.writer.ClusterSummaries().Create(ctx, selectingSummary(c.name, "rw"), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create on %s: %v", c.from, err)
		}
		// No polling: a read that follows an acknowledged write must see it.
		got, err := c.reader.ClusterSummaries().Get(ctx, c.name, metav1.GetOptions{})
		if err != nil || got.UID != created.UID {
			t.Errorf("get on %s right after the create on %s: %v (uid %v, want %v)", c.to, c.from, err, uidOf(got), created.UID)
		}
		l, err := c.reader.ClusterSummaries().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list on %s: %v", c.to, err)
		}
		if !slices.ContainsFunc(l.Items, func(cs v1beta1.ClusterSummary) bool { return cs.UID == created.UID }) {
			t.Errorf("list on %s right after the create on %s lacks %s", c.to, c.from, c.name)
		}
	}

	// Update on B what A created; A serves the new generation at once, and
	// so does the aggregator (which proxies to A).
	cs, err := b.ClusterSummaries().Get(ctx, "ha-rw-on-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs.Spec.GroupByNodeLabel = "topology.kubernetes.io/zone"
	updated, err := b.ClusterSummaries().Update(ctx, cs, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update on B: %v", err)
	}
	for name, client := range map[string]typed.ClusterviewV1beta1Interface{"A": a, "kube-apiserver": env.Client.ClusterviewV1beta1()} {
		got, err := client.ClusterSummaries().Get(ctx, "ha-rw-on-a", metav1.GetOptions{})
		if err != nil || got.Generation != updated.Generation || got.Spec.GroupByNodeLabel == "" {
			t.Errorf("get through %s after the update on B: %v, generation %d, want %d", name, err, generationOf(got), updated.Generation)
		}
	}

	// Delete on A; B answers 404 at once.
	if err := a.ClusterSummaries().Delete(ctx, "ha-rw-on-b", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete on A: %v", err)
	}
	if _, err := b.ClusterSummaries().Get(ctx, "ha-rw-on-b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get on B after the delete on A: %v, want 404", err)
	}

	// B's watch saw all of it: both creations, the update and the deletion.
	want := []string{"ADDED ha-rw-on-a", "ADDED ha-rw-on-b", "MODIFIED ha-rw-on-a", "DELETED ha-rw-on-b"}
	var seen []string
	timeout := time.After(30 * time.Second)
	for !containsInOrder(seen, want) {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("B's watch closed; saw %v, want %v in order", seen, want)
			}
			if cs, isCS := ev.Object.(*v1beta1.ClusterSummary); isCS && ev.Type != watch.Bookmark {
				seen = append(seen, string(ev.Type)+" "+cs.Name)
			}
		case <-timeout:
			t.Fatalf("B's watch saw %v within 30s, want %v in order", seen, want)
		}
	}

	// Both replicas' informers feed their own engine.
	createNode(ctx, t, "ha-rw-node", "rw")
	for _, r := range env.Replicas() {
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			ns, err := direct(t, r).NodeSummaries().Get(ctx, "ha-rw-node", metav1.GetOptions{})
			return err == nil && ns.Ready, nil
		})
		if err != nil {
			t.Errorf("replica %s never served the NodeSummary of ha-rw-node", r.Name)
		}
	}
}

// containsInOrder reports whether want is a subsequence of seen. Status
// writes by the leader may add MODIFIED events in between.
func containsInOrder(seen, want []string) bool {
	i := 0
	for _, s := range seen {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}

func uidOf(cs *v1beta1.ClusterSummary) any {
	if cs == nil {
		return nil
	}
	return cs.UID
}

func generationOf(cs *v1beta1.ClusterSummary) int64 {
	if cs == nil {
		return 0
	}
	return cs.Generation
}

// TestOnlyTheLeaderWritesStatuses: the Lease names one replica, that replica
// writes every status (its clusterview_status_writes_total grows), the
// other attempts none (its counter stays put) yet serves the statuses the
// leader wrote.
func TestOnlyTheLeaderWritesStatuses(t *testing.T) {
	ctx := t.Context()
	deleteSummaries(t, "ha-writer")
	healAfter(t)
	lead, identity, follower := leader(ctx, t)
	t.Logf("replica %s leads as %s", lead.Name, identity)
	leaderBefore, followerBefore := statusWrites(ctx, t, lead), statusWrites(ctx, t, follower)

	if _, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Create(ctx, selectingSummary("ha-writer", "writer"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fromFollower := direct(t, follower)
	for i, node := range []string{"ha-writer-1", "ha-writer-2"} {
		createNode(ctx, t, node, "writer")
		waitNodeCount(ctx, t, fromFollower, "ha-writer", int64(i+1), 30*time.Second)
	}

	leaderDelta := statusWrites(ctx, t, lead) - leaderBefore
	followerDelta := statusWrites(ctx, t, follower) - followerBefore
	figure(t, "status writes during the test (leader, follower)", []float64{leaderDelta, followerDelta})
	// At least the status with one node and the one with two.
	if leaderDelta < 2 {
		t.Errorf("the leader (replica %s) wrote %v statuses, want at least 2", lead.Name, leaderDelta)
	}
	if followerDelta != 0 {
		t.Errorf("the follower (replica %s) attempted %v status writes, want none", follower.Name, followerDelta)
	}
	if now, err := holder(ctx); err != nil || now != identity {
		t.Errorf("the Lease holder changed during the test: %q (%v), was %q", now, err, identity)
	}

	// The status is owned by the controller's field manager, written through
	// the status subresource. Both replicas use the same manager name, so
	// managedFields cannot tell which replica wrote it; the metrics above do.
	cs, err := fromFollower.ClusterSummaries().Get(ctx, "ha-writer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(cs.ManagedFields, func(e metav1.ManagedFieldsEntry) bool {
		return e.Manager == clustersummarystatus.FieldManager && e.Subresource == "status"
	}) {
		t.Errorf("no managedFields entry of clusterview-status-controller for the status subresource: %+v", cs.ManagedFields)
	}
}

// TestLeaderKilledHandsOver: SIGKILL the leader right after it renewed the
// Lease. The survivor must not take over before the lease duration has
// passed (that would be two writers), must take over within the bound
// client-go's leader election gives, and then keep statuses converging.
// The killed replica is restarted and rejoins.
func TestLeaderKilledHandsOver(t *testing.T) {
	ctx := t.Context()
	deleteSummaries(t, "ha-handover")
	healAfter(t)
	lead, identity, survivor := leader(ctx, t)
	fromSurvivor := direct(t, survivor)
	if _, err := fromSurvivor.ClusterSummaries().Create(ctx, selectingSummary("ha-handover", "handover"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createNode(ctx, t, "ha-handover-1", "handover")
	waitNodeCount(ctx, t, fromSurvivor, "ha-handover", 1, 30*time.Second)
	survivorWrites := statusWrites(ctx, t, survivor)

	// Kill right after a renewal: the survivor must then wait a whole lease
	// duration, which is what this test measures.
	lease, err := env.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	renewed := lease.Spec.RenewTime
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, env.RenewDeadline, true, func(ctx context.Context) (bool, error) {
		l, err := env.Lease(ctx)
		return err == nil && !l.Spec.RenewTime.Equal(renewed), nil
	})
	if err != nil {
		t.Fatalf("the leader did not renew its Lease within %v", env.RenewDeadline)
	}
	killed := time.Now()
	if err := lead.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILLed replica %s (the leader, %s)", lead.Name, identity)

	// The survivor serves reads and writes at once.
	if _, err := fromSurvivor.ClusterSummaries().Get(ctx, "ha-handover", metav1.GetOptions{}); err != nil {
		t.Errorf("the survivor failed a read right after the kill: %v", err)
	}
	// A change the new leader must reflect.
	createNode(ctx, t, "ha-handover-2", "handover")

	// client-go's follower takes a lease over once it has seen no renewal
	// for LeaseDuration, checking every RetryPeriod with up to 120% jitter.
	// It notices the last renewal up to one check late and the expiry up to
	// one check late: handover ≤ LeaseDuration + 2 × RetryPeriod × 2.2.
	maxCheck := time.Duration(float64(env.RetryPeriod) * 2.2)
	upper := env.LeaseDuration + 2*maxCheck
	// The defaults are chosen so that this bound keeps the 15 s promise of
	// docs/high-availability.md.
	if upper > 15*time.Second {
		t.Errorf("the leader-election defaults allow a handover of up to %v, more than 15 s", upper)
	}
	var newHolder string
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, upper+10*time.Second, true, func(ctx context.Context) (bool, error) {
		h, err := holder(ctx)
		if err == nil && h != "" && h != identity {
			newHolder = h
			return true, nil
		}
		return false, nil
	})
	handover := time.Since(killed)
	if err != nil {
		t.Fatalf("no replica took the Lease over within %v of the kill", upper+10*time.Second)
	}
	figure(t, "handover after SIGKILL of the leader (Lease holder changes)", handover)
	if handover < env.LeaseDuration-time.Second {
		t.Errorf("the survivor took the Lease %v after the kill, before the lease duration %v had passed since the last renewal", handover, env.LeaseDuration)
	}
	// 2 s of slack for request latency on a loaded machine.
	if handover > upper+2*time.Second {
		t.Errorf("handover took %v, want at most %v (lease duration + 2 × retry period × 2.2)", handover, upper)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return env.HolderOf(newHolder) == survivor, nil
	})
	if err != nil {
		t.Errorf("the new holder %q is not the surviving replica %s", newHolder, survivor.Name)
	}

	converged := waitNodeCount(ctx, t, fromSurvivor, "ha-handover", 2, 30*time.Second)
	figure(t, "status staleness after SIGKILL of the leader (change made at the kill until the status shows it)", converged.Sub(killed))
	if statusWrites(ctx, t, survivor) <= survivorWrites {
		t.Errorf("the new leader (replica %s) wrote no status", survivor.Name)
	}

	// The killed replica comes back on the same port and follows.
	restarted := restart(ctx, t, lead, "restarted replica ready (process start to /readyz 200)")
	if lead == env.A {
		// The APIService points at A: requests through kube-apiserver work
		// again once A is back.
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, "ha-handover", metav1.GetOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("kube-apiserver does not reach replica A after its restart: %v", err)
		}
		figure(t, "requests through kube-apiserver succeed again after replica A's restart (from process start)", time.Since(restarted))
	}
	if h, err := holder(ctx); err != nil || h != newHolder {
		t.Errorf("the Lease moved when the old leader came back: %q (%v), want %q", h, err, newHolder)
	}
	if len(lead.LeaderIdentities()) != 0 {
		t.Errorf("the restarted replica %s leads (%v) although the Lease is held", lead.Name, lead.LeaderIdentities())
	}
}
