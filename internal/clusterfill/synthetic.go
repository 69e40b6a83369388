package clusterfill

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// SyntheticLabel marks every object Synthetic creates (value "true").
const SyntheticLabel = "clusterview.io/synthetic"

// Defaults for SyntheticOptions' zero values: the scale clusterview is
// benchmarked at.
const (
	DefaultSyntheticNodes      = 5000
	DefaultSyntheticPods       = 150000
	DefaultSyntheticNamespaces = 100
	DefaultConcurrency         = 32
	DefaultProgressInterval    = time.Second
)

// SyntheticOptions sizes a synthetic cluster. Zero values take the Default*
// constants; negative ones are an error.
type SyntheticOptions struct {
	Nodes, Pods, Namespaces int
	// Concurrency bounds the requests in flight.
	Concurrency int
	// Progress, if set, receives one line per ProgressInterval while
	// loading: objects done/total, current and average rate, elapsed time.
	Progress         io.Writer
	ProgressInterval time.Duration
	// Seed makes the choice of node, shape, phase and restarts for every
	// object; the same options give the same cluster.
	Seed int64
}

// SyntheticReport is what Synthetic loaded and how fast.
type SyntheticReport struct {
	// Objects in place: created now or found from an earlier run.
	Nodes, Namespaces, Pods int
	// Existing counts objects of all kinds that were already there.
	Existing int
	// Writes is the number of create and update requests made.
	Writes int
	// PodsByPhase counts the pods by the phase written; UnscheduledPods
	// are Pending with no spec.nodeName.
	PodsByPhase     map[corev1.PodPhase]int
	UnscheduledPods int
	// NotReadyNodes have Ready=False or Unknown.
	NotReadyNodes int
	Duration      time.Duration
	// ObjectsPerSecond is (Nodes+Namespaces+Pods)/Duration.
	ObjectsPerSecond float64
	WritesPerSecond  float64
}

func (r SyntheticReport) String() string {
	return fmt.Sprintf("synthetic cluster loaded in %v: %d nodes (%d not ready), %d namespaces, %d pods (%s; %d unscheduled), "+
		"%d already present; %d writes; %.0f objects/s, %.0f writes/s",
		r.Duration.Round(time.Millisecond), r.Nodes, r.NotReadyNodes, r.Namespaces, r.Pods, fmtCounts(r.PodsByPhase),
		r.UnscheduledPods, r.Existing, r.Writes, r.ObjectsPerSecond, r.WritesPerSecond)
}

func (o *SyntheticOptions) defaults() error {
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"Nodes", &o.Nodes, DefaultSyntheticNodes},
		{"Pods", &o.Pods, DefaultSyntheticPods},
		{"Namespaces", &o.Namespaces, DefaultSyntheticNamespaces},
		{"Concurrency", &o.Concurrency, DefaultConcurrency},
	} {
		switch {
		case *f.v < 0:
			return fmt.Errorf("SyntheticOptions.%s must not be negative, got %d", f.name, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = DefaultProgressInterval
	}
	return nil
}

// Synthetic loads a large cluster for the scale benchmark: Namespaces
// namespaces (each with its "default" ServiceAccount), Nodes nodes across
// three zones with capacity, allocatable and conditions (about 1.5% not
// ready, a few under memory or disk pressure, 0.25% cordoned, 2% with
// GPUs), and Pods pods spread over the namespaces round-robin and over the
// nodes at random (Seed): about 89% Running (1% of them crash-looping, 1%
// not ready), 2% Pending on a node, 1% unscheduled, 5% Succeeded and 3%
// Failed, with requests, mostly limits, some sidecar and init containers
// and restart counts (sidecars restart too), and in known shares the pod
// shapes whose requests are easy to count wrongly: 5% with pod-level
// resources (spec.resources) and 3% in RuntimeClass SyntheticRuntimeClass,
// whose overhead admission adds to the pod. Objects are written by Concurrency workers; client
// should come from TuneConfig, or client-go's default rate limit of 5
// requests/s sets the pace.
//
// Each pod costs two writes, create (with spec.nodeName, which binds it)
// and UpdateStatus, because kube-apiserver drops the status of a pod on
// create. Each ready node costs two as well (see the package
// documentation).
//
// Synthetic is meant for an empty cluster. Objects that exist already are
// counted in Existing and left as they are, except that a pod still in the
// status an interrupted run left it is given its status.
func Synthetic(ctx context.Context, client kubernetes.Interface, opts SyntheticOptions) (SyntheticReport, error) {
	if err := opts.defaults(); err != nil {
		return SyntheticReport{}, err
	}
	logger := klog.FromContext(ctx).WithName("clusterfill")
	ctx = klog.NewContext(ctx, logger)
	s := &synth{client: client, opts: opts}
	total := opts.Nodes + opts.Namespaces + opts.Pods
	s.progress = startProgress(opts.Progress, "synthetic", total, opts.ProgressInterval)
	logger.Info("Loading synthetic cluster", "nodes", opts.Nodes, "namespaces", opts.Namespaces, "pods", opts.Pods,
		"concurrency", opts.Concurrency, "seed", opts.Seed)

	err := s.run(ctx)
	s.progress.finish()
	d := time.Since(s.progress.start)
	r := SyntheticReport{
		Nodes:         int(s.nodes.Load()),
		Namespaces:    int(s.namespaces.Load()),
		Pods:          int(s.pods.Load()),
		Existing:      int(s.existing.Load()),
		Writes:        int(s.writes.Load()),
		PodsByPhase:   map[corev1.PodPhase]int{},
		NotReadyNodes: int(s.notReady.Load()),
		Duration:      d,
	}
	for st := range s.byState {
		if n := int(s.byState[st].Load()); n > 0 {
			r.PodsByPhase[podState(st).phase()] += n
			if podState(st) == stateUnscheduled {
				r.UnscheduledPods = n
			}
		}
	}
	r.ObjectsPerSecond = float64(r.Nodes+r.Namespaces+r.Pods) / d.Seconds()
	r.WritesPerSecond = float64(r.Writes) / d.Seconds()
	if err != nil {
		return r, fmt.Errorf("synthetic cluster: %w", err)
	}
	logger.Info("Synthetic cluster loaded", "took", d, "objectsPerSecond", int(r.ObjectsPerSecond), "writes", r.Writes)
	return r, nil
}

type synth struct {
	client   kubernetes.Interface
	opts     SyntheticOptions
	progress *progress

	nodes, namespaces, pods, existing, writes, notReady atomic.Int64
	byState                                             [stateUnknown + 1]atomic.Int64
}

// SyntheticRuntimeClass is the RuntimeClass of the synthetic pods that carry
// a pod overhead; SyntheticOverhead is that overhead.
const SyntheticRuntimeClass = "synthetic-sandboxed"

// SyntheticOverhead is the pod overhead of SyntheticRuntimeClass.
var SyntheticOverhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("160Mi")}

// syntheticPodResources are the pod-level resources of the pods that have
// them: larger than any container aggregate the generator makes, as
// validation requires.
var syntheticPodResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")},
	Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("16Gi")},
}

func (s *synth) run(ctx context.Context) error {
	// Admission copies the overhead of a pod's RuntimeClass into the pod,
	// so the class must exist before its pods.
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: SyntheticRuntimeClass, Labels: syntheticLabels},
		Handler: "sandboxed", Overhead: &nodev1.Overhead{PodFixed: SyntheticOverhead}}
	if err := s.create(ctx, func(ctx context.Context) error {
		_, err := s.client.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("runtimeclass %s: %w", rc.Name, err)
	}
	if err := forEach(ctx, s.opts.Namespaces, s.opts.Concurrency, s.namespace); err != nil {
		return err
	}
	if err := forEach(ctx, s.opts.Nodes, s.opts.Concurrency, s.node); err != nil {
		return err
	}
	return forEach(ctx, s.opts.Pods, s.opts.Concurrency, s.pod)
}

// rng returns the random source of one object: a pure function of the seed,
// the kind and the index, so results do not depend on which worker gets
// which object.
func (s *synth) rng(kind uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(s.opts.Seed), kind<<56|uint64(i)))
}

func syntheticNamespace(i int) string { return fmt.Sprintf("synth-ns-%04d", i) }
func syntheticNode(i int) string      { return fmt.Sprintf("synth-node-%05d", i) }

var syntheticLabels = map[string]string{SyntheticLabel: "true"}

func (s *synth) namespace(ctx context.Context, i int) error {
	name := syntheticNamespace(i)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: merged(syntheticLabels, map[string]string{
		"team": fmt.Sprintf("team-%02d", i%10),
		"tier": []string{"prod", "staging", "batch"}[i%3],
	})}}
	if err := s.create(ctx, func(ctx context.Context) error {
		_, err := s.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}}
	err := withRetry(ctx, func(ctx context.Context) error {
		_, err := s.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{})
		return err
	})
	switch {
	case err == nil:
		s.writes.Add(1)
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("serviceaccount %s/default: %w", name, err)
	}
	s.namespaces.Add(1)
	s.progress.add(1)
	return nil
}

// create runs a create request with retries, counting the write, and
// treats AlreadyExists as an existing object.
func (s *synth) create(ctx context.Context, fn func(ctx context.Context) error) error {
	err := withRetry(ctx, fn)
	switch {
	case err == nil:
		s.writes.Add(1)
		return nil
	case apierrors.IsAlreadyExists(err):
		s.existing.Add(1)
		return nil
	default:
		return err
	}
}

// syntheticNodeSpec is node i. Health and cordoning follow i, so their
// fractions are exact; size follows the seed.
func (s *synth) nodeSpec(i int) nodeSpec {
	r := s.rng(1, i)
	name := syntheticNode(i)
	zone := []string{"zone-a", "zone-b", "zone-c"}[i%3]
	sizes := []struct{ cpu, memory string }{{"16", "64Gi"}, {"32", "128Gi"}, {"64", "256Gi"}}
	size := sizes[r.IntN(len(sizes))]
	health := healthReady
	switch {
	case i%100 == 99:
		health = healthNotReady
	case i%200 == 50:
		health = healthUnknown
	case i%200 == 17:
		health = healthMemoryPressure
	case i%250 == 33:
		health = healthDiskPressure
	}
	var gpus int64
	role := "worker"
	if i%50 == 25 {
		gpus, role = 8, "gpu"
	}
	labels := merged(syntheticLabels, map[string]string{
		labelHostname:              name,
		labelOS:                    "linux",
		labelArch:                  "amd64",
		labelZone:                  zone,
		labelRegion:                "synthetic-1",
		labelInstanceType:          "synthetic." + size.cpu,
		labelRolePrefix + role:     "",
		"clusterview.io/node-pool": role,
	})
	if gpus > 0 {
		labels[labelGPUPresent] = "true"
	}
	// Room for the pods the benchmark puts on the node, and then some.
	pods := max(int64(110), 4*int64((s.opts.Pods+s.opts.Nodes-1)/max(s.opts.Nodes, 1)))
	return nodeSpec{
		name: name, labels: labels, cpu: size.cpu, memory: size.memory, storage: "200Gi",
		pods: pods, gpus: gpus, health: health, cordoned: i%400 == 7,
	}
}

func (s *synth) node(ctx context.Context, i int) error {
	spec := s.nodeSpec(i)
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	want := buildNode(spec, now)
	c := s.client.CoreV1().Nodes()
	var created *corev1.Node
	err := withRetry(ctx, func(ctx context.Context) error {
		var err error
		created, err = c.Create(ctx, want, metav1.CreateOptions{})
		return err
	})
	switch {
	case apierrors.IsAlreadyExists(err):
		s.existing.Add(1)
	case err != nil:
		return fmt.Errorf("node %s: %w", spec.name, err)
	default:
		s.writes.Add(1)
		// TaintNodesByCondition admission tainted the node not-ready.
		if !taintsEqual(created.Spec.Taints, want.Spec.Taints) {
			created.Spec.Taints = want.Spec.Taints
			if err := withRetry(ctx, func(ctx context.Context) error {
				_, err := c.Update(ctx, created, metav1.UpdateOptions{})
				return err
			}); err != nil {
				return fmt.Errorf("node %s: setting taints: %w", spec.name, err)
			}
			s.writes.Add(1)
		}
	}
	if !spec.health.ready() {
		s.notReady.Add(1)
	}
	s.nodes.Add(1)
	s.progress.add(1)
	return nil
}

// Per-container request choices; limits are twice the request.
var (
	cpuChoices    = quantities("50m", "100m", "250m", "500m", "1")
	cpuLimits     = quantities("100m", "200m", "500m", "1", "2")
	memoryChoices = quantities("64Mi", "128Mi", "256Mi", "512Mi", "1Gi")
	memoryLimits  = quantities("128Mi", "256Mi", "512Mi", "1Gi", "2Gi")
)

func quantities(s ...string) []resource.Quantity {
	out := make([]resource.Quantity, len(s))
	for i, v := range s {
		out[i] = resource.MustParse(v)
	}
	return out
}

// podSpec is pod i with the state its status will have and the restart
// counts of its app containers and of its sidecars.
func (s *synth) podSpec(i int) (*corev1.Pod, podState, int32, int32) {
	r := s.rng(2, i)
	var state podState
	switch u := r.IntN(1000); {
	case u < 10:
		state = stateCrashLoop
	case u < 20:
		state = stateNotReady
	case u < 890:
		state = stateRunning
	case u < 910:
		state = stateCreating
	case u < 920:
		state = stateUnscheduled
	case u < 970:
		state = stateSucceeded
	case u < 990:
		state = stateError
	default:
		state = stateOOMKilled
	}
	var restarts int32
	switch {
	case state == stateCrashLoop:
		restarts = 3 + r.Int32N(20)
	case state == stateRunning && r.IntN(20) == 0:
		restarts = 1 + r.Int32N(3)
	}
	app := fmt.Sprintf("app-%02d", r.IntN(20))

	res := func(limits bool) corev1.ResourceRequirements {
		ci, mi := r.IntN(len(cpuChoices)), r.IntN(len(memoryChoices))
		req := corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: cpuChoices[ci], corev1.ResourceMemory: memoryChoices[mi],
		}}
		if limits {
			req.Limits = corev1.ResourceList{corev1.ResourceCPU: cpuLimits[ci], corev1.ResourceMemory: memoryLimits[mi]}
		}
		return req
	}
	image := imageRegistry + app + ":1.0." + fmt.Sprint(i%7)
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways}
	if phase := state.phase(); phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		spec.RestartPolicy = corev1.RestartPolicyNever
	}
	if r.IntN(10) == 0 {
		sc := corev1.Container{Name: "proxy", Image: imageRegistry + "proxy:1.9.0", Resources: res(true)}
		always := corev1.ContainerRestartPolicyAlways
		sc.RestartPolicy = &always
		spec.InitContainers = append(spec.InitContainers, sc)
	}
	if r.IntN(10) == 0 {
		spec.InitContainers = append(spec.InitContainers, corev1.Container{Name: "init", Image: image, Resources: res(true)})
	}
	containers := 1
	if r.IntN(10) < 3 {
		containers = 2
	}
	for c := range containers {
		name := "main"
		if c > 0 {
			name = "helper"
		}
		spec.Containers = append(spec.Containers, corev1.Container{Name: name, Image: image, Resources: res(r.IntN(5) != 0)})
	}
	if state != stateUnscheduled {
		spec.NodeName = syntheticNode(r.IntN(s.opts.Nodes))
	}
	// Drawn last, so that the draws above, and so every pod's other
	// features, are the same as before these shapes were added.
	var sidecarRestarts int32
	if len(spec.InitContainers) > 0 && isSidecar(&spec.InitContainers[0]) && state == stateRunning && r.IntN(4) == 0 {
		sidecarRestarts = 1 + r.Int32N(3)
	}
	if r.IntN(20) == 0 {
		spec.Resources = syntheticPodResources.DeepCopy()
	}
	if r.IntN(100) < 3 {
		spec.RuntimeClassName = ptr.To(SyntheticRuntimeClass)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("synth-pod-%06d", i),
			Namespace: syntheticNamespace(i % s.opts.Namespaces),
			Labels:    merged(syntheticLabels, map[string]string{"app": app}),
		},
		Spec: spec,
	}
	return pod, state, restarts, sidecarRestarts
}

func (s *synth) pod(ctx context.Context, i int) error {
	want, state, restarts, sidecarRestarts := s.podSpec(i)
	c := s.client.CoreV1().Pods(want.Namespace)
	var have *corev1.Pod
	err := withRetry(ctx, func(ctx context.Context) error {
		var err error
		have, err = c.Create(ctx, want, metav1.CreateOptions{})
		return err
	})
	existed := apierrors.IsAlreadyExists(err)
	switch {
	case existed:
		s.existing.Add(1)
		if have, err = c.Get(ctx, want.Name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("pod %s/%s: %w", want.Namespace, want.Name, err)
		}
	case err != nil:
		return fmt.Errorf("pod %s/%s: %w", want.Namespace, want.Name, err)
	default:
		s.writes.Add(1)
	}

	status := podStatus(have, state, restarts, sidecarRestarts)
	if state == stateUnscheduled {
		status.Conditions[0].Message = fmt.Sprintf("0/%d nodes are available: %d Insufficient cpu. "+
			"preemption: 0/%d nodes are available: %d No preemption victims found for incoming pod.",
			s.opts.Nodes, s.opts.Nodes, s.opts.Nodes, s.opts.Nodes)
	}
	// An existing pod keeps what it has unless it is the same pod still
	// waiting for the status write of an interrupted run.
	write := !existed || (have.Spec.NodeName == want.Spec.NodeName && have.Status.Phase == corev1.PodPending &&
		len(have.Status.ContainerStatuses) == 0 && len(have.Status.Conditions) == 0 && !equality.Semantic.DeepEqual(have.Status, status))
	if write {
		have.Status = status
		if err := withRetry(ctx, func(ctx context.Context) error {
			_, err := c.UpdateStatus(ctx, have, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				// An earlier try went through although its answer was lost.
				latest, getErr := c.Get(ctx, want.Name, metav1.GetOptions{})
				if getErr != nil {
					return getErr
				}
				latest.Status = status
				_, err = c.UpdateStatus(ctx, latest, metav1.UpdateOptions{})
			}
			return err
		}); err != nil {
			return fmt.Errorf("pod %s/%s: writing status: %w", want.Namespace, want.Name, err)
		}
		s.writes.Add(1)
	}
	if !existed || write {
		s.byState[state].Add(1)
	} else {
		s.byState[stateOf(have)].Add(1)
	}
	s.pods.Add(1)
	s.progress.add(1)
	return nil
}

// stateOf classifies an existing pod for the report.
func stateOf(pod *corev1.Pod) podState {
	switch pod.Status.Phase {
	case corev1.PodRunning:
		return stateRunning
	case corev1.PodPending:
		if pod.Spec.NodeName == "" {
			return stateUnscheduled
		}
		return stateCreating
	case corev1.PodSucceeded:
		return stateSucceeded
	case corev1.PodFailed:
		if strings.Contains(pod.Status.Reason, "Deadline") {
			return stateDeadline
		}
		return stateError
	default:
		return stateUnknown
	}
}
