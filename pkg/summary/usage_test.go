package summary

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// usageWorld is a small cluster and one round of usage, with an independent
// recount of what every read should say.
type usageWorld struct {
	e *Engine
	// pods: namespace/name -> node, cpu and memory request, usage (nil: none).
	pods  map[string]*usagePod
	nodes map[string]*NodeUse // nil: no NodeMetrics
	zone  map[string]string
	team  map[string]string
}

type usagePod struct {
	ns, name, node   string
	reqCPU, reqMem   int64
	useCPU, useMem   int64
	hasUse, finished bool
}

func newUsageWorld(t *testing.T) *usageWorld {
	w := &usageWorld{e: New(Options{}), pods: map[string]*usagePod{}, nodes: map[string]*NodeUse{},
		zone: map[string]string{"n1": "a", "n2": "a", "n3": "b"},
		team: map[string]string{"prod": "x", "dev": "y", "idle": "x", "web": "z", "api": "z"}}
	for name, zone := range w.zone {
		w.e.UpsertNode(mkNode(name, nodeLabels("zone", zone), allocatable("cpu", "4", "memory", "8Gi", "pods", "110")))
	}
	for name, team := range w.team {
		w.e.UpsertNamespace(mkNS(name, "team", team))
	}
	i := 0
	for _, ns := range []string{"prod", "dev", "idle", "web", "api"} {
		for _, node := range []string{"n1", "n2", "n3"} {
			i++
			p := &usagePod{ns: ns, name: fmt.Sprintf("p%d", i), node: node, reqCPU: int64(100 * i), reqMem: int64(i) << 26}
			w.pods[ns+"/"+p.name] = p
			w.upsertPod(p)
		}
	}
	// A pod that finished holds no requests; one with no node has none either.
	done := &usagePod{ns: "prod", name: "done", node: "n1", reqCPU: 500, finished: true}
	w.pods["prod/done"] = done
	w.upsertPod(done)
	return w
}

func (w *usageWorld) upsertPod(p *usagePod) {
	phase := v1.PodRunning
	if p.finished {
		phase = v1.PodSucceeded
	}
	w.e.UpsertPod(mkPod(p.ns, p.name, onNode(p.node), inPhase(phase),
		withContainers(ctr("c", rl("cpu", fmt.Sprintf("%dm", p.reqCPU), "memory", fmt.Sprint(p.reqMem)), nil))))
}

// round sets usage: pod i uses (i*37 % 300)m and (i%4)*64Mi, so some pods use
// more than they request and some less; nodes use their pods' sum plus a
// system share, n3 has no NodeMetrics.
func (w *usageWorld) round(salt int64) {
	var pods []PodUse
	for i, key := range slices.Sorted(maps.Keys(w.pods)) {
		p, i := w.pods[key], int64(i+1)
		if p.ns == "idle" {
			p.hasUse = false // the metrics API does not list them this round
			continue
		}
		p.hasUse, p.useCPU, p.useMem = true, (i*37+salt)%300, ((i+salt)%4)<<26
		pods = append(pods, PodUse{Namespace: p.ns, Name: p.name, CPU: p.useCPU, Memory: p.useMem})
	}
	// Usage of a pod the engine does not know is ignored.
	pods = append(pods, PodUse{Namespace: "prod", Name: "gone", CPU: 999, Memory: 999})
	pods = append(pods, PodUse{Namespace: "nowhere", Name: "x", CPU: 999, Memory: 999})
	clear(w.nodes)
	var nodes []NodeUse
	for name, zone := range w.zone {
		if name == "n3" || zone == NoGroupValue { // no NodeMetrics; deleted
			continue
		}
		u := NodeUse{Name: name, CPU: 250 + salt, Timestamp: time.Unix(1000+salt, 0), Window: 15 * time.Second}
		for _, p := range w.pods {
			if p.node == name && p.hasUse {
				u.CPU += p.useCPU
				u.Memory += p.useMem
			}
		}
		w.nodes[name] = &u
		nodes = append(nodes, u)
	}
	w.e.ReplaceUsage(nodes, pods)
}

// want recounts cpu and memory usage and idle for a selection, from the
// world's own data.
func (w *usageWorld) want(nodeOK, nsOK func(string) bool, useNodes bool) (cpu, mem, cpuIdle, memIdle int64) {
	if useNodes {
		for name, u := range w.nodes {
			if nodeOK(name) {
				cpu += u.CPU
				mem += u.Memory
			}
		}
	}
	for _, p := range w.pods {
		if !p.hasUse || !nodeOK(p.node) || !nsOK(p.ns) {
			continue
		}
		if !useNodes {
			cpu += p.useCPU
			mem += p.useMem
		}
		reqCPU, reqMem := p.reqCPU, p.reqMem
		if p.finished {
			reqCPU, reqMem = 0, 0
		}
		cpuIdle += max(0, reqCPU-p.useCPU)
		memIdle += max(0, reqMem-p.useMem)
	}
	return
}

func (w *usageWorld) check(t *testing.T, label string) {
	t.Helper()
	all := func(string) bool { return true }
	check := func(what string, r []ResourceTotals, cpu, mem, cpuIdle, memIdle int64) {
		t.Helper()
		c, m := resRow(r, v1.ResourceCPU), resRow(r, v1.ResourceMemory)
		if !c.HasUsage || !m.HasUsage || c.Usage != cpu || m.Usage != mem || c.Idle != cpuIdle || m.Idle != memIdle {
			t.Errorf("%s: %s: got cpu %d/%d idle, memory %d/%d idle (has %v,%v); want %d/%d, %d/%d",
				label, what, c.Usage, c.Idle, m.Usage, m.Idle, c.HasUsage, m.HasUsage, cpu, cpuIdle, mem, memIdle)
		}
	}
	for _, n := range w.e.ListNodes(nil) {
		u := w.nodes[n.Name]
		c := resRow(n.Resources, v1.ResourceCPU)
		if u == nil {
			if c.HasUsage || !n.UsageTimestamp.IsZero() {
				t.Errorf("%s: node %s without NodeMetrics reports usage %+v", label, n.Name, c)
			}
			continue
		}
		check("node "+n.Name, n.Resources, u.CPU, u.Memory, 0, 0)
		if !n.UsageTimestamp.Equal(u.Timestamp) || n.UsageWindow != u.Window {
			t.Errorf("%s: node %s sample %v/%v, want %v/%v", label, n.Name, n.UsageTimestamp, n.UsageWindow, u.Timestamp, u.Window)
		}
	}
	for _, ns := range w.e.ListNamespaces(nil) {
		is := func(name string) func(string) bool { return func(s string) bool { return s == name } }(ns.Name)
		cpu, mem, ci, mi := w.want(all, is, false)
		check("namespace "+ns.Name, ns.Resources, cpu, mem, ci, mi)
	}
	res := []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory}
	inZone := func(z string) func(string) bool { return func(n string) bool { return w.zone[n] == z } }
	inTeam := func(x string) func(string) bool { return func(ns string) bool { return w.team[ns] == x } }
	for _, tc := range []struct {
		name          string
		sel           Selection
		nodeOK, nsOK  func(string) bool
		nodeUsage     bool
		groupsByZones bool
	}{
		{"all", Selection{Resources: res}, all, all, true, false},
		{"zone=a", Selection{NodeSelector: sel("zone=a"), Resources: res}, inZone("a"), all, true, false},
		{"team=x", Selection{NamespaceSelector: sel("team=x"), Resources: res}, all, inTeam("x"), false, false},
		{"zone=a,team=x", Selection{NodeSelector: sel("zone=a"), NamespaceSelector: sel("team=x"), Resources: res}, inZone("a"), inTeam("x"), false, false},
		{"grouped", Selection{GroupByNodeLabel: "zone", Resources: res}, all, all, true, true},
		{"grouped team=y", Selection{GroupByNodeLabel: "zone", NamespaceSelector: sel("team=y"), Resources: res}, all, inTeam("y"), false, true},
		// Most cells selected: the read subtracts those left out.
		{"grouped team!=x", Selection{GroupByNodeLabel: "zone", NamespaceSelector: sel("team notin (x)"), Resources: res},
			all, func(ns string) bool { return !inTeam("x")(ns) }, false, true},
		{"grouped zone!=b,team!=y", Selection{GroupByNodeLabel: "zone", NodeSelector: sel("zone notin (b)"), NamespaceSelector: sel("team notin (y)"), Resources: res},
			func(n string) bool { return !inZone("b")(n) }, func(ns string) bool { return !inTeam("y")(ns) }, false, true},
	} {
		got := w.e.Cluster(tc.sel)
		if !got.UsageAvailable {
			t.Errorf("%s: cluster %s: usage not available", label, tc.name)
		}
		cpu, mem, ci, mi := w.want(tc.nodeOK, tc.nsOK, tc.nodeUsage)
		check("cluster "+tc.name, got.Resources, cpu, mem, ci, mi)
		if tc.groupsByZones {
			values := map[string]bool{}
			for n, z := range w.zone {
				if tc.nodeOK(n) {
					values[z] = true
				}
			}
			if len(got.Groups) != len(values) {
				t.Fatalf("%s: cluster %s: %d groups, want %d", label, tc.name, len(got.Groups), len(values))
			}
			for _, g := range got.Groups {
				z := g.Value
				cpu, mem, ci, mi := w.want(func(n string) bool { return tc.nodeOK(n) && w.zone[n] == z }, tc.nsOK, tc.nodeUsage)
				check("cluster "+tc.name+" group "+z, g.Resources, cpu, mem, ci, mi)
			}
		}
	}
}

func TestUsageSums(t *testing.T) {
	w := newUsageWorld(t)
	if w.e.UsageAvailable() || w.e.Cluster(Selection{}).UsageAvailable {
		t.Fatal("usage available before any round")
	}
	for _, n := range w.e.ListNodes(nil) {
		if resRow(n.Resources, v1.ResourceCPU).HasUsage {
			t.Fatalf("node %s has usage before any round", n.Name)
		}
	}
	w.round(0)
	w.check(t, "first round")

	// A pod event that changes requests keeps the pod's usage and moves its idle.
	p := w.pods["prod/p1"]
	p.reqCPU, p.reqMem = 5000, 1<<34
	w.upsertPod(p)
	w.check(t, "after a request change")

	// A pod moving to another node takes its usage along.
	p.node = "n3"
	w.upsertPod(p)
	w.check(t, "after a move")

	// A pod that left drops its usage.
	w.e.DeletePod("dev", "p4")
	delete(w.pods, "dev/p4")
	w.check(t, "after a delete")

	// New values; a round that lists fewer pods drops the others' usage.
	w.round(7)
	w.check(t, "second round")

	// A deleted node drops its usage from cluster sums; its pods count on,
	// as pods of a node without labels.
	w.e.DeleteNode("n2")
	delete(w.nodes, "n2")
	w.zone["n2"] = NoGroupValue
	w.check(t, "after a node delete")

	// Clearing: every usage field goes, nothing else changes.
	before := w.e.Cluster(Selection{Resources: []v1.ResourceName{v1.ResourceCPU}})
	w.e.ClearUsage()
	after := w.e.Cluster(Selection{Resources: []v1.ResourceName{v1.ResourceCPU}})
	if after.UsageAvailable || after.Resources[0].HasUsage || after.Resources[0].Usage != 0 || after.Resources[0].Idle != 0 {
		t.Fatalf("after ClearUsage: %+v", after.Resources[0])
	}
	before.Resources[0].Usage, before.Resources[0].Idle, before.Resources[0].HasUsage = 0, 0, false
	if before.Resources[0] != after.Resources[0] || before.Pods != after.Pods || before.Nodes != after.Nodes {
		t.Fatalf("ClearUsage changed more than usage: %+v -> %+v", before, after)
	}
	for _, ns := range w.e.ListNamespaces(nil) {
		for _, r := range ns.Resources {
			if r.HasUsage || r.Usage != 0 || r.Idle != 0 {
				t.Fatalf("namespace %s keeps usage after ClearUsage: %+v", ns.Name, r)
			}
		}
	}
	// And it comes back.
	w.round(3)
	w.check(t, "after coming back")
}

func TestUsageRevisions(t *testing.T) {
	w := newUsageWorld(t)
	w.round(0)
	rev := w.e.Revision()
	// The same round again changes nothing and costs no revision.
	w.round(0)
	if got := w.e.Revision(); got != rev {
		t.Fatalf("an unchanged round moved the revision from %d to %d", rev, got)
	}
	changes, _, err := w.e.Changes(rev)
	if err != nil || len(changes) != 0 {
		t.Fatalf("unchanged round: changes %v, err %v", changes, err)
	}
	// A new round records a change for the summaries whose usage moved.
	w.round(1)
	changes, _, err = w.e.Changes(rev)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range changes {
		seen[c.Kind.String()+"/"+c.Name] = true
	}
	for _, want := range []string{"Node/n1", "Namespace/prod"} {
		if !seen[want] {
			t.Errorf("no change recorded for %s; got %v", want, seen)
		}
	}
	if seen["Node/n3"] {
		t.Errorf("n3, which has no NodeMetrics, got a change")
	}
}

// TestUsageRoundRecordsOneChangePerSummary: a round that changes the usage of
// more pods than the change ring holds records one change per summary it
// changed, so watchers that were current before the round stay current
// instead of being told to relist.
func TestUsageRoundRecordsOneChangePerSummary(t *testing.T) {
	e := New(Options{ChangeBufferSize: 50})
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "a"), allocatable("cpu", "64", "memory", "64Gi", "pods", "500")))
	var round []PodUse
	for _, ns := range []string{"a", "b"} {
		e.UpsertNamespace(mkNS(ns, "team", "x"))
		for i := range 100 {
			name := fmt.Sprintf("p%d", i)
			e.UpsertPod(mkPod(ns, name, onNode("n1"), withContainers(ctr("c", rl("cpu", "100m"), nil))))
			round = append(round, PodUse{Namespace: ns, Name: name, CPU: int64(i + 1), Memory: 1 << 20})
		}
	}
	node := []NodeUse{{Name: "n1", CPU: 1000, Memory: 1 << 30, Timestamp: time.Now(), Window: time.Minute}}
	// The first round makes usage available, which changes every summary.
	e.ReplaceUsage(node, nil)
	rev := e.Revision()
	e.ReplaceUsage(node, round)

	nb, err := e.NamespaceChangesWithState(rev, ChangeFilter{})
	if err != nil {
		t.Fatalf("namespace changes after the round: %v", err)
	}
	var names []string
	for _, c := range nb.Changes {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"a", "b"}) && !slices.Equal(names, []string{"b", "a"}) {
		t.Errorf("namespace changes of the round = %v, want a and b once each", names)
	}
	for _, r := range nb.Current["a"].Resources {
		if r.Name == v1.ResourceCPU && (!r.HasUsage || r.Usage != 5050) {
			t.Errorf("namespace a's CPU after the round = %+v, want a usage of 5050m", r)
		}
	}
	if _, err := e.NodeChangesWithState(rev, ChangeFilter{}); err != nil {
		t.Errorf("node changes after the round: %v", err)
	}
}

// TestUsageRoundsOverManyChunks: rounds longer than one chunk of the write
// lock still give every listed pod its usage and take it from every pod a
// round leaves out.
func TestUsageRoundsOverManyChunks(t *testing.T) {
	namespaces := []string{"a", "b", "c"}
	const perNS = 2 * usageChunk
	e, usageOf := chunkWorld(t, namespaces, perNS)
	round := func(keep func(i int) bool, cpu int64) []PodUse {
		var pods []PodUse
		for _, ns := range namespaces {
			for i := range perNS {
				if keep(i) {
					pods = append(pods, PodUse{Namespace: ns, Name: fmt.Sprintf("p%d", i), CPU: cpu, Memory: 1})
				}
			}
		}
		return pods
	}
	e.ReplaceUsage(nil, round(func(int) bool { return true }, 1))
	for _, ns := range namespaces {
		if got := usageOf(ns); got != perNS {
			t.Errorf("after a full round, namespace %s uses %dm of CPU, want %d", ns, got, perNS)
		}
	}
	e.ReplaceUsage(nil, round(func(i int) bool { return i%3 == 0 }, 2))
	want := int64(2 * ((perNS + 2) / 3))
	for _, ns := range namespaces {
		if got := usageOf(ns); got != want {
			t.Errorf("after a round of every third pod, namespace %s uses %dm of CPU, want %d", ns, got, want)
		}
	}
}

// TestUsageRoundInAnyOrderRecordsFewChanges: a round that lists pods in no
// particular order, as the metrics API may, still records each namespace in
// one or two chunks, not in every chunk.
func TestUsageRoundInAnyOrderRecordsFewChanges(t *testing.T) {
	namespaces := []string{"a", "b", "c"}
	e, _ := chunkWorld(t, namespaces, usageChunk)
	e.ReplaceNodeUsage(nil) // usage available: the round below changes only pods
	var round []PodUse
	for i := range usageChunk {
		for _, ns := range namespaces { // interleaved: a, b, c, a, b, c, ...
			round = append(round, PodUse{Namespace: ns, Name: fmt.Sprintf("p%d", i), CPU: 1, Memory: 1})
		}
	}
	rev := e.Revision()
	e.ReplacePodUsage(round)
	records := namespaceRecordsSince(t, e, rev)
	for _, ns := range namespaces {
		if records[ns] < 1 || records[ns] > 2 {
			t.Errorf("the round recorded namespace %s %d times, want once or twice (all: %v)", ns, records[ns], records)
		}
	}
}

// namespaceRecordsSince counts the change records of each namespace after
// revision rev.
func namespaceRecordsSince(t *testing.T, e *Engine, rev uint64) map[string]int {
	t.Helper()
	nb, err := e.NamespaceChangesWithState(rev, ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]int{}
	for _, c := range nb.Changes {
		records[c.Name]++
	}
	return records
}

// chunkWorld is one node and perNS pods of 100m requested in each of
// namespaces, for the tests of rounds over several chunks, and a function
// that reads a namespace's CPU usage.
func chunkWorld(t *testing.T, namespaces []string, perNS int) (*Engine, func(ns string) int64) {
	e := New(Options{})
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "a"), allocatable("cpu", "640", "memory", "64Ti", "pods", "9000")))
	for _, ns := range namespaces {
		e.UpsertNamespace(mkNS(ns, "team", "x"))
		for i := range perNS {
			e.UpsertPod(mkPod(ns, fmt.Sprintf("p%d", i), onNode("n1"), withContainers(ctr("c", rl("cpu", "100m"), nil))))
		}
	}
	return e, func(ns string) int64 {
		t.Helper()
		got, _, ok := e.NamespaceAt(ns)
		if !ok {
			t.Fatalf("namespace %s not found", ns)
		}
		for _, r := range got.Resources {
			if r.Name == v1.ResourceCPU {
				return r.Usage
			}
		}
		return -1
	}
}

// roundAfterOneChunk is a chunkWorld of namespaces a and b, in which a
// round gave b's p0 7m of CPU, and an open round that has been given a full
// chunk of namespace a's pods at 1m each.
func roundAfterOneChunk(t *testing.T) (*Engine, func(ns string) int64, *PodUsageRound) {
	e, usageOf := chunkWorld(t, []string{"a", "b"}, usageChunk)
	e.ReplacePodUsage([]PodUse{{Namespace: "b", Name: "p0", CPU: 7, Memory: 1}})
	round := e.BeginPodUsage()
	for i := range usageChunk {
		round.Add(PodUse{Namespace: "a", Name: fmt.Sprintf("p%d", i), CPU: 1, Memory: 1})
	}
	return e, usageOf, round
}

// TestPodUsageRoundAppliesAsItReads: a round fed in namespace order shows a
// namespace's usage as soon as a chunk of it is in, before the round ends,
// and the end still takes away the usage of pods it did not list.
func TestPodUsageRoundAppliesAsItReads(t *testing.T) {
	_, usageOf, round := roundAfterOneChunk(t)
	if got := usageOf("a"); got != usageChunk {
		t.Errorf("with the round still open, a full chunk of namespace a shows %dm of CPU, want %d", got, usageChunk)
	}
	if got := usageOf("b"); got != 7 {
		t.Errorf("with the round still open, namespace b shows %dm of CPU, want the previous round's 7", got)
	}
	round.Add(PodUse{Namespace: "b", Name: "p1", CPU: 3, Memory: 1})
	round.End()
	if got := usageOf("b"); got != 3 {
		t.Errorf("after the round, namespace b shows %dm of CPU, want 3 (p0 not listed, p1 uses 3m)", got)
	}
}

// TestPodUsageRoundOutOfOrder: once a pod comes out of namespace order the
// round keeps the rest and applies it, sorted, at its end: the result is
// the same, and each namespace is still recorded once or twice.
func TestPodUsageRoundOutOfOrder(t *testing.T) {
	namespaces := []string{"a", "b", "c"}
	e, usageOf := chunkWorld(t, namespaces, usageChunk)
	e.ReplaceNodeUsage(nil) // usage available: the round below changes only pods
	rev := e.Revision()
	round := e.BeginPodUsage()
	for i := range usageChunk {
		for _, ns := range []string{"c", "a", "b"} {
			round.Add(PodUse{Namespace: ns, Name: fmt.Sprintf("p%d", i), CPU: 2, Memory: 1})
		}
	}
	round.End()
	records := namespaceRecordsSince(t, e, rev)
	for _, ns := range namespaces {
		if got := usageOf(ns); got != 2*usageChunk {
			t.Errorf("namespace %s shows %dm of CPU, want %d", ns, got, 2*usageChunk)
		}
		if records[ns] < 1 || records[ns] > 2 {
			t.Errorf("the round recorded namespace %s %d times, want once or twice (all: %v)", ns, records[ns], records)
		}
	}
}

// TestPodUsageRoundAbort: a round whose list failed part way applies every
// pod it was given and takes no one's usage away.
func TestPodUsageRoundAbort(t *testing.T) {
	e, usageOf, round := roundAfterOneChunk(t)
	round.Add(PodUse{Namespace: "b", Name: "p1", CPU: 3, Memory: 1}) // not a full chunk: pending
	round.Abort()
	round.End() // does nothing after Abort
	if got := usageOf("a"); got != usageChunk {
		t.Errorf("namespace a shows %dm of CPU, want the applied chunk's %d", got, usageChunk)
	}
	if got := usageOf("b"); got != 10 {
		t.Errorf("namespace b shows %dm of CPU, want 10: p0's 7 from the previous round, p1's 3 applied by Abort", got)
	}
	// The next round runs: Abort released the round.
	e.ReplacePodUsage(nil)
	if got := usageOf("a"); got != 0 {
		t.Errorf("after an empty round namespace a shows %dm of CPU, want 0", got)
	}
}

// TestPodUsageRoundDoesNotHoldNodeUsage: node usage rounds and clears are
// not ordered behind an open pod round's list, only ClearUsage is.
func TestPodUsageRoundDoesNotHoldNodeUsage(t *testing.T) {
	e, _ := chunkWorld(t, []string{"a"}, 1)
	round := e.BeginPodUsage()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.ReplaceNodeUsage([]NodeUse{{Name: "n1", CPU: 5, Memory: 1, Timestamp: time.Unix(1000, 0)}})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("ReplaceNodeUsage waited for an open pod round")
	}
	round.End()
	n, _, _ := e.NodeAt("n1")
	for _, r := range n.Resources {
		if r.Name == v1.ResourceCPU && r.Usage != 5 {
			t.Errorf("n1 uses %dm of CPU, want 5", r.Usage)
		}
	}
}

// TestNodeLeftOutKeepsCurrentSample: a node a NodeMetrics round leaves out
// keeps its sample, in its NodeSummary and in the cluster's sum, while the
// sample is not older than the time given, and loses it after.
func TestNodeLeftOutKeepsCurrentSample(t *testing.T) {
	e := New(Options{})
	for _, name := range []string{"n1", "n2"} {
		e.UpsertNode(mkNode(name, nodeLabels("zone", "a"), allocatable("cpu", "4", "memory", "8Gi", "pods", "110")))
	}
	t0 := time.Unix(1000, 0)
	sample := func(name string, cpu int64, at time.Time) NodeUse {
		return NodeUse{Name: name, CPU: cpu, Memory: 1, Timestamp: at, Window: 15 * time.Second}
	}
	nodeCPU := func(name string) (int64, bool) {
		n, _, _ := e.NodeAt(name)
		for _, r := range n.Resources {
			if r.Name == v1.ResourceCPU {
				return r.Usage, r.HasUsage
			}
		}
		return 0, false
	}
	clusterCPU := func() int64 {
		for _, r := range e.Cluster(Selection{Resources: []v1.ResourceName{v1.ResourceCPU}}).Resources {
			if r.Name == v1.ResourceCPU {
				return r.Usage
			}
		}
		return -1
	}

	e.ReplaceNodeUsageKeeping([]NodeUse{sample("n1", 100, t0), sample("n2", 200, t0)}, t0.Add(-45*time.Second))
	// n2 left out, its sample still current: kept, in the sum too.
	e.ReplaceNodeUsageKeeping([]NodeUse{sample("n1", 110, t0.Add(15*time.Second))}, t0.Add(-30*time.Second))
	if got, ok := nodeCPU("n2"); !ok || got != 200 {
		t.Errorf("n2 left out with a current sample: usage %dm (has %v), want its 200m kept", got, ok)
	}
	if got := clusterCPU(); got != 310 {
		t.Errorf("cluster CPU usage %dm with n2's sample kept, want 310m", got)
	}
	// Left out again, its sample now older than the time given: lost.
	e.ReplaceNodeUsageKeeping([]NodeUse{sample("n1", 120, t0.Add(30*time.Second))}, t0.Add(time.Second))
	if got, ok := nodeCPU("n2"); ok {
		t.Errorf("n2 left out with a sample older than allowed: usage %dm, want none", got)
	}
	if got := clusterCPU(); got != 120 {
		t.Errorf("cluster CPU usage %dm after n2's sample went stale, want 120m", got)
	}
	// ReplaceNodeUsage keeps nothing.
	e.ReplaceNodeUsageKeeping([]NodeUse{sample("n1", 120, t0), sample("n2", 200, t0)}, time.Time{})
	e.ReplaceNodeUsage([]NodeUse{sample("n1", 120, t0)})
	if got, ok := nodeCPU("n2"); ok {
		t.Errorf("ReplaceNodeUsage kept n2's usage %dm, want none", got)
	}
}
