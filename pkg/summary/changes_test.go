package summary

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"
)

// TestReadsAtAreExact checks that the At reads return the revision their
// items were read at: a writer relabels n0 and ns0 with a counter, one
// revision per event, so the label must equal the revision read with it.
func TestReadsAtAreExact(t *testing.T) {
	e := New(Options{InitialRevision: 1000})
	e.UpsertNode(mkNode("n0", nodeLabels("i", "0"))) // 1001
	e.UpsertNamespace(mkNS("ns0", "i", "0"))         // 1002
	const base = 1002
	const writes = 2000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= writes; i++ {
			if i%2 == 1 {
				e.UpsertNode(mkNode("n0", nodeLabels("i", strconv.Itoa(i))))
			} else {
				e.UpsertNamespace(mkNS("ns0", "i", strconv.Itoa(i)))
			}
		}
	})
	// want returns the counter the label of kind must show at rev.
	want := func(rev uint64, odd bool) string {
		i := int(rev - base)
		if i > 0 && (i%2 == 1) != odd {
			i-- // the last write was of the other kind
		}
		if i <= 0 {
			return "0"
		}
		return strconv.Itoa(i)
	}
	check := func(what string, got map[string]string, rev uint64, odd bool) {
		if w := want(rev, odd); got["i"] != w {
			t.Errorf("%s at revision %d has label i=%s, want %s", what, rev, got["i"], w)
		}
	}
	for done := false; !done; {
		done = e.Revision() == base+writes
		nodes, rev := e.ListNodesAt(nil)
		check("ListNodesAt", nodes[0].Labels, rev, true)
		nss, rev := e.ListNamespacesAt(labels.Everything())
		check("ListNamespacesAt", nss[0].Labels, rev, false)
		n, rev, _ := e.NodeAt("n0")
		check("NodeAt", n.Labels, rev, true)
		ns, rev, _ := e.NamespaceAt("ns0")
		check("NamespaceAt", ns.Labels, rev, false)
		b, err := e.NodeChangesWithState(base, ChangeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if cur, ok := b.Current["n0"]; ok {
			check("NodeChangesWithState", cur.Labels, b.Revision, true)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	wg.Wait()
	if _, _, ok := e.NodeAt("nope"); ok {
		t.Error("NodeAt(nope) found a node")
	}
	if _, rev, ok := e.NamespaceAt("nope"); ok || rev != base+writes {
		t.Errorf("NamespaceAt(nope) = %v, %d", ok, rev)
	}
}

func TestDeletedChangesKeepLabels(t *testing.T) {
	e := New(Options{})
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "a"))) // 1
	e.UpsertNamespace(mkNS("ns", "team", "x"))          // 2
	e.DeleteNode("n1")                                  // 3
	e.DeleteNamespace("ns")                             // 4
	recs, _, err := e.Changes(2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Revision: 3, Kind: KindNode, Type: Deleted, Name: "n1", Labels: map[string]string{"zone": "a"}},
		{Revision: 4, Kind: KindNamespace, Type: Deleted, Name: "ns", Labels: map[string]string{"team": "x"}},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Copies: changing them changes nothing in the engine.
	recs[0].Labels["zone"] = "b"
	if again, _, _ := e.Changes(2); again[0].Labels["zone"] != "a" {
		t.Error("Changes shares its labels")
	}
}

func TestChangesWithState(t *testing.T) {
	e := New(Options{InitialRevision: 10})
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "a"), allocatable("pods", "10"))) // 11
	e.UpsertNode(mkNode("n2", nodeLabels("zone", "b")))                            // 12
	e.UpsertNamespace(mkNS("ns"))                                                  // 13
	e.UpsertPod(cpuPod("ns", "p", "1", onNode("n1")))                              // 14: ns, n1
	e.UpsertNode(mkNode("n2", nodeLabels("zone", "a")))                            // 15: n2 joins zone=a
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "b"), allocatable("pods", "10"))) // 16: n1 leaves
	e.UpsertPod(cpuPod("ns", "p", "1", onNode("n2")))                              // 17: ns, n1, n2
	e.DeleteNode("n1")                                                             // 18
	e.DeleteNode("n2")                                                             // 19

	zoneA := ChangeFilter{Labels: sel("zone=a")}
	b, err := e.NodeChangesWithState(13, zoneA)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Rev          uint64
		Name         string
		Type         ChangeType
		Was, Visible bool
		Seen         map[string]string
	}
	var got []rec
	for _, c := range b.Changes {
		got = append(got, rec{c.Revision, c.Name, c.Type, c.WasVisible, c.Visible, c.SeenLabels})
	}
	a, bb := map[string]string{"zone": "a"}, map[string]string(nil)
	want := []rec{
		{14, "n1", Modified, true, true, bb},
		{15, "n2", Modified, false, true, a},
		{16, "n1", Modified, true, false, a},
		{17, "n1", Modified, false, false, bb},
		{17, "n2", Modified, true, true, bb},
		{18, "n1", Deleted, false, false, bb},
		{19, "n2", Deleted, true, false, a},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if b.Revision != 19 || len(b.Current) != 0 {
		t.Errorf("revision %d, current %v; want 19 and nothing", b.Revision, b.Current)
	}
	// Every deletion keeps the deleted summary's last state.
	if len(b.Deleted) != 2 || b.Deleted[5].Name != "n1" || b.Deleted[5].Labels["zone"] != "b" || b.Deleted[5].PodCapacity != 10 ||
		b.Deleted[6].Name != "n2" || b.Deleted[6].Pods.Total != 1 || b.Deleted[6].Revision != 17 {
		t.Errorf("deleted: %+v", b.Deleted)
	}
	if b.Changes[6].Labels["zone"] != "a" {
		t.Errorf("deleted change labels: %v", b.Changes[6].Labels)
	}

	// A name filter; the state of a summary that exists.
	e.UpsertNode(mkNode("n3", nodeLabels("zone", "a"))) // 20
	e.UpsertPod(cpuPod("ns", "q", "1", onNode("n3")))   // 21
	b, err = e.NodeChangesWithState(17, ChangeFilter{Name: func(n string) bool { return n != "n1" }, Labels: sel("zone=a")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range b.Changes {
		names = append(names, c.Name+"@"+strconv.FormatUint(c.Revision, 10))
	}
	if diff := cmp.Diff([]string{"n2@19", "n3@20", "n3@21"}, names); diff != "" {
		t.Errorf("filtered names (-want +got):\n%s", diff)
	}
	if n3, ok := b.Current["n3"]; !ok || n3.Revision != 21 || n3.Pods.Total != 1 || len(b.Current) != 1 {
		t.Errorf("current: %+v", b.Current)
	}

	// Namespaces, with no label filter: visible means existing.
	e.UpsertNamespace(mkNS("ns", "team", "x")) // 22
	nb, err := e.NamespaceChangesWithState(20, ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nb.Changes) != 2 || !nb.Changes[0].WasVisible || !nb.Changes[1].Visible || nb.Current["ns"].Labels["team"] != "x" || nb.Revision != 22 {
		t.Errorf("namespace batch: %+v", nb)
	}
	e.DeleteNamespace("ns") // 23
	nb, _ = e.NamespaceChangesWithState(22, ChangeFilter{Labels: sel("team=x")})
	if len(nb.Changes) != 1 || !nb.Changes[0].WasVisible || nb.Changes[0].Visible || nb.Deleted[0].Labels["team"] != "x" || nb.Deleted[0].Pods.Total != 2 {
		t.Errorf("namespace deletion: %+v", nb)
	}

	if _, err := e.NodeChangesWithState(24, ChangeFilter{}); !errors.Is(err, ErrRevisionTooNew) {
		t.Errorf("after 24: %v, want ErrRevisionTooNew", err)
	}
}

func TestChangesWithStateEvictionIsPerKind(t *testing.T) {
	e := New(Options{ChangeBufferSize: 3})
	e.UpsertNode(mkNode("n1")) // 1
	for i := range 5 {
		e.UpsertNamespace(mkNS("ns" + strconv.Itoa(i))) // 2..6
	}
	// Record 1 left the ring, but it was the only node change: a node
	// watcher at 1 misses nothing, one at 0 does.
	if _, _, err := e.Changes(1); !errors.Is(err, ErrRevisionTooOld) {
		t.Errorf("Changes(1): %v, want ErrRevisionTooOld", err)
	}
	if b, err := e.NodeChangesWithState(1, ChangeFilter{}); err != nil || len(b.Changes) != 0 || b.Revision != 6 {
		t.Errorf("node changes after 1: %+v, %v", b, err)
	}
	if _, err := e.NodeChangesWithState(0, ChangeFilter{}); !errors.Is(err, ErrRevisionTooOld) {
		t.Errorf("node changes after 0: %v, want ErrRevisionTooOld", err)
	}
	if _, err := e.NamespaceChangesWithState(2, ChangeFilter{}); !errors.Is(err, ErrRevisionTooOld) {
		t.Errorf("namespace changes after 2: %v, want ErrRevisionTooOld", err)
	}
	if b, err := e.NamespaceChangesWithState(3, ChangeFilter{}); err != nil || len(b.Changes) != 3 {
		t.Errorf("namespace changes after 3: %+v, %v", b, err)
	}
	// What relabelings and deletions keep besides the ring leaves with
	// their records.
	for i := range 20 {
		e.UpsertNode(mkNode("n1", nodeLabels("i", strconv.Itoa(i))))
		e.DeleteNamespace("ns" + strconv.Itoa(i%5))
		e.UpsertNamespace(mkNS("ns" + strconv.Itoa(i%5)))
	}
	if len(e.changes.extra) > 3 {
		t.Errorf("%d extra entries for a ring of 3", len(e.changes.extra))
	}
}

// TestChangesWithStateTellVisibility checks the guarantee watchers build
// on: for any revision R still in the ring, the first change of a summary
// after R says whether it was visible at R, and a summary with no change
// after R is now as it was at R. Random node, namespace and pod events are
// applied while the visible set is recorded at every revision.
func TestChangesWithStateTellVisibility(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	e := New(Options{ChangeBufferSize: 100000})
	selectors := []string{"", "zone=a", "zone in (a,c)", "zone!=b"}
	nodes, nss := []string{"n0", "n1", "n2", "n3"}, []string{"s0", "s1", "s2"}
	zones := []string{"a", "b", "c"}
	type view map[string]string    // visible name -> fingerprint
	seen := map[uint64][2][]view{} // revision -> [nodes, namespaces] per selector
	snapshot := func() {
		var v [2][]view
		for _, s := range selectors {
			nv, nsv := view{}, view{}
			ns, rev := e.ListNodesAt(sel(s))
			for _, n := range ns {
				nv[n.Name] = fmt.Sprint(n.Labels, n.Pods.Total, n.Revision)
			}
			nn, rev2 := e.ListNamespacesAt(sel(s))
			for _, n := range nn {
				nsv[n.Name] = fmt.Sprint(n.Labels, n.Pods.Total, n.Revision)
			}
			if rev != rev2 {
				t.Fatalf("engine moved during the test's reads")
			}
			v[0], v[1] = append(v[0], nv), append(v[1], nsv)
		}
		seen[e.Revision()] = v
	}
	snapshot()
	for range 600 {
		switch r.IntN(6) {
		case 0:
			e.UpsertNode(mkNode(nodes[r.IntN(len(nodes))], nodeLabels("zone", zones[r.IntN(3)])))
		case 1:
			e.DeleteNode(nodes[r.IntN(len(nodes))])
		case 2:
			e.UpsertNamespace(mkNS(nss[r.IntN(len(nss))], "zone", zones[r.IntN(3)]))
		case 3:
			e.DeleteNamespace(nss[r.IntN(len(nss))])
		default:
			p := cpuPod(nss[r.IntN(len(nss))], "p"+strconv.Itoa(r.IntN(6)), strconv.Itoa(1+r.IntN(3)), onNode(nodes[r.IntN(len(nodes))]))
			if r.IntN(4) == 0 {
				e.DeletePod(p.Namespace, p.Name)
			} else {
				e.UpsertPod(p)
			}
		}
		snapshot()
	}

	// Several changes at one revision are Modified and keep labels.
	all, _, _ := e.Changes(0)
	for i := 1; i < len(all); i++ {
		if all[i].Revision == all[i-1].Revision && (all[i].Type != Modified || all[i-1].Type != Modified) {
			t.Fatalf("revision %d records %v and %v", all[i].Revision, all[i-1], all[i])
		}
	}

	now := seen[e.Revision()]
	for rev, then := range seen {
		for si, s := range selectors {
			for kind := range 2 {
				var changes []WatchedChange
				var err error
				if kind == 0 {
					var b ChangeBatch[NodeTotals]
					b, err = e.NodeChangesWithState(rev, ChangeFilter{Labels: sel(s)})
					changes = b.Changes
				} else {
					var b ChangeBatch[NamespaceTotals]
					b, err = e.NamespaceChangesWithState(rev, ChangeFilter{Labels: sel(s)})
					changes = b.Changes
				}
				if err != nil {
					t.Fatal(err)
				}
				first := map[string]WatchedChange{}
				last := map[string]WatchedChange{}
				for _, c := range changes {
					if _, ok := first[c.Name]; !ok {
						first[c.Name] = c
					}
					if prev, ok := last[c.Name]; ok && prev.Visible != c.WasVisible {
						t.Fatalf("%q kind %d: %s visible %v after %d but %v before %d", s, kind, c.Name, prev.Visible, prev.Revision, c.WasVisible, c.Revision)
					}
					last[c.Name] = c
				}
				names := append(slices.Collect(maps.Keys(then[kind][si])), slices.Collect(maps.Keys(now[kind][si]))...)
				for _, name := range names {
					_, wasVisible := then[kind][si][name]
					c, changed := first[name]
					switch {
					case changed && c.WasVisible != wasVisible:
						t.Fatalf("%q kind %d after %d: first change of %s says visible=%v, was %v", s, kind, rev, name, c.WasVisible, wasVisible)
					case !changed && then[kind][si][name] != now[kind][si][name]:
						t.Fatalf("%q kind %d after %d: %s has no change but went from %q to %q", s, kind, rev, name, then[kind][si][name], now[kind][si][name])
					case changed && last[name].Visible != (now[kind][si][name] != ""):
						t.Fatalf("%q kind %d after %d: last change of %s says visible=%v", s, kind, rev, name, last[name].Visible)
					}
				}
			}
		}
	}
}

func TestWaitTakesNoEngineLock(t *testing.T) {
	e := New(Options{})
	e.UpsertNamespace(mkNS("ns"))
	rev := e.Revision()
	// A writer holds the lock: waiting must not block on it.
	e.mu.Lock()
	got := make(chan [3]<-chan struct{})
	go func() {
		got <- [3]<-chan struct{}{e.Wait(rev - 1), e.Wait(rev), e.WaitFor(KindNode, rev)}
	}()
	var chans [3]<-chan struct{}
	select {
	case chans = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait blocked on the engine's lock")
	}
	e.mu.Unlock()
	if !isClosed(chans[0]) || isClosed(chans[1]) || isClosed(chans[2]) {
		t.Fatalf("closed: past %v, current %v, node %v", isClosed(chans[0]), isClosed(chans[1]), isClosed(chans[2]))
	}
}

func TestWaitForWakesOnItsKindOnly(t *testing.T) {
	e := New(Options{})
	rev := e.Revision()
	anyCh, nodeCh, nsCh := e.Wait(rev), e.WaitFor(KindNode, rev), e.WaitFor(KindNamespace, rev)
	e.UpsertNamespace(mkNS("ns"))
	if !isClosed(anyCh) || isClosed(nodeCh) || !isClosed(nsCh) {
		t.Fatalf("after a namespace change: any %v, node %v, namespace %v", isClosed(anyCh), isClosed(nodeCh), isClosed(nsCh))
	}
	// A pod in an unknown namespace and bound to no node changes the
	// revision but no summary.
	rev = e.Revision()
	anyCh, nsCh = e.Wait(rev), e.WaitFor(KindNamespace, rev)
	e.UpsertPod(cpuPod("elsewhere", "p", "1"))
	if !isClosed(anyCh) || isClosed(nsCh) || isClosed(nodeCh) {
		t.Fatalf("after an unrecorded change: any %v, node %v, namespace %v", isClosed(anyCh), isClosed(nodeCh), isClosed(nsCh))
	}
	e.UpsertNode(mkNode("n1"))
	if !isClosed(nodeCh) || isClosed(nsCh) {
		t.Fatalf("after a node change: node %v, namespace %v", isClosed(nodeCh), isClosed(nsCh))
	}
	// Waiting for a revision already passed by a change of the kind.
	if !isClosed(e.WaitFor(KindNode, rev)) || isClosed(e.WaitFor(KindNode, e.Revision())) {
		t.Fatal("WaitFor does not compare with the kind's last change")
	}
}

// TestWaitNeverMissesAWakeUp races waiters against writers: every waiter
// must wake once the revision passes the one it waited for.
func TestWaitNeverMissesAWakeUp(t *testing.T) {
	e := New(Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rev := e.Revision()
				select {
				case <-e.WaitFor(KindNode, rev):
				case <-time.After(5 * time.Second):
					t.Errorf("waiter at %d never woke (now %d)", rev, e.Revision())
					return
				}
			}
		})
	}
	for i := range 20000 {
		e.UpsertNode(mkNode("n", nodeLabels("i", strconv.Itoa(i))))
	}
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// Keep changing until the last waiters have woken and seen stop.
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
			e.UpsertNode(mkNode("n", nodeLabels("j", strconv.Itoa(i))))
			time.Sleep(time.Millisecond)
		}
	}
}

// TestWaitForNameWakesForItsSummaryOnly checks that a waiter for one
// namespace sleeps through the changes of other namespaces and of nodes,
// wakes for a change of its own, and that released waits are forgotten.
func TestWaitForNameWakesForItsSummaryOnly(t *testing.T) {
	e := New(Options{})
	e.UpsertNamespace(mkNS("a"))
	e.UpsertNamespace(mkNS("b"))
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	chA, releaseA := e.WaitForName(KindNamespace, "a", e.Revision())
	chNodeA, releaseNodeA := e.WaitForName(KindNode, "a", e.Revision())
	for i := range 20 {
		e.UpsertNamespace(mkNS("b", "i", strconv.Itoa(i)))
		e.UpsertNode(mkNode("a", nodeLabels("i", strconv.Itoa(i))))
	}
	e.DeleteNamespace("b")
	if closed(chA) {
		t.Fatal("the wait for namespace a was woken by changes of namespace b or of node a")
	}
	if !closed(chNodeA) {
		t.Fatal("the wait for node a was not woken by node a's changes")
	}
	releaseNodeA()
	e.UpsertNamespace(mkNS("a", "x", "y"))
	if !closed(chA) {
		t.Fatal("the wait for namespace a was not woken by its own change")
	}
	releaseA()

	// A wait from before a change of a that its waiter has not read wakes
	// at once; one from before changes of b only does not.
	aChanged := e.Revision()
	stale, release := e.WaitForName(KindNamespace, "a", aChanged-1)
	release()
	if !closed(stale) {
		t.Fatal("a wait from before an unread change of a is not closed")
	}
	e.UpsertNamespace(mkNS("b"))
	e.UpsertNamespace(mkNS("b", "x", "y"))
	sinceB, release := e.WaitForName(KindNamespace, "a", aChanged)
	release()
	if closed(sinceB) {
		t.Fatal("a wait from before changes of b only is closed")
	}

	// Waits released without a change leave nothing behind. (The released
	// waits above left nothing either: no name is waited for here.)
	if n := e.changes.named[KindNamespace].names.Load(); n != 0 {
		t.Fatalf("%d names waited for after all waits were released, want 0", n)
	}
	for i := range 100 {
		_, release := e.WaitForName(KindNamespace, "gone-"+strconv.Itoa(i), e.Revision())
		release()
		release() // idempotent
	}
	ch1, r1 := e.WaitForName(KindNamespace, "a", e.Revision())
	ch2, r2 := e.WaitForName(KindNamespace, "a", e.Revision())
	r1()
	if n := e.changes.named[KindNamespace].names.Load(); n != 1 {
		t.Fatalf("%d names waited for after releasing all but one waiter of a, want 1", n)
	}
	e.UpsertNamespace(mkNS("a", "x", "z"))
	if !closed(ch1) || !closed(ch2) {
		t.Fatal("waiters of a sharing a wait were not woken")
	}
	r2()
	if n := e.changes.named[KindNamespace].names.Load(); n != 0 {
		t.Fatalf("%d names waited for after the last wait woke, want 0", n)
	}
}
