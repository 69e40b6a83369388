package clusterfill

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// Defaults for ChurnOptions' zero values.
const (
	DefaultChurnRate     = 10.0
	DefaultChurnDuration = 10 * time.Second
	// churnCandidates caps how many pods and how many nodes Churn lists to
	// pick from: one page each, however large the cluster.
	churnCandidates = 1000
)

// ChurnOptions paces Churn. Zero values take the defaults.
type ChurnOptions struct {
	// Rate is changes per second (default DefaultChurnRate).
	Rate float64
	// Duration bounds how long Churn runs (default DefaultChurnDuration).
	Duration time.Duration
	// MaxChanges bounds the number of changes; zero means Rate×Duration.
	MaxChanges int
	// Seed picks the objects and changes.
	Seed int64
	// LabelSelector restricts the pods and nodes changed, e.g. SyntheticLabel+"=true".
	LabelSelector string
}

// ChangeKind says what a change did.
type ChangeKind string

const (
	// ChangeRestart increments the first container's restartCount, as a
	// container that crashed and was restarted.
	ChangeRestart ChangeKind = "Restart"
	// ChangePhase flips a pod's phase Running→Pending or back, with its
	// Ready condition.
	ChangePhase ChangeKind = "Phase"
	// ChangeCrashLoop puts the first container into CrashLoopBackOff (with
	// a restart) or takes it out again.
	ChangeCrashLoop ChangeKind = "CrashLoop"
	// ChangeNodeReady flips a node's Ready condition between True and
	// False. Taints are left alone.
	ChangeNodeReady ChangeKind = "NodeReady"
)

// ChurnChange is one status write Churn made.
type ChurnChange struct {
	// Kind is "Pod" or "Node"; Namespace is empty for nodes.
	Kind            string
	Namespace, Name string
	Change          ChangeKind
	// From and To describe the changed value: a phase, a restart count,
	// a container state reason ("Running", "CrashLoopBackOff") or a Ready
	// status.
	From, To string
	// ResourceVersion is the object's resourceVersion after the write, to
	// match with watch events.
	ResourceVersion string
	// Sent is when the request was started, Acked when its successful
	// answer arrived: the change is in etcd at some instant between them.
	Sent, Acked time.Time
}

// ChurnReport lists Churn's changes in the order they were made.
type ChurnReport struct {
	Changes  []ChurnChange
	Duration time.Duration
	// Late counts changes that started more than one interval after their
	// slot, because requests took longer than 1/Rate: the achieved rate is
	// below Rate.
	Late int
}

// Churn changes the status of pods and nodes at a steady rate, one change
// at a time, for the freshness benchmark: restart counts, Running↔Pending
// phase flips and CrashLoopBackOff on and off for Running pods, and Ready
// flips for nodes (about one change in five). It picks from at most 1000
// Running pods and 1000 nodes matching LabelSelector, listed once at the
// start, and stops after Duration or MaxChanges changes, whichever comes
// first. Changes are serial, so the achieved rate is at most one per request
// latency; Late tells when that fell short.
//
// Churn never moves a pod into a terminal phase, so Demo can restore every
// pod it changed; running Demo again undoes its changes to demo objects.
func Churn(ctx context.Context, client kubernetes.Interface, opts ChurnOptions) (ChurnReport, error) {
	if opts.Rate < 0 || opts.Duration < 0 || opts.MaxChanges < 0 {
		return ChurnReport{}, fmt.Errorf("ChurnOptions must not be negative: %+v", opts)
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultChurnRate
	}
	if opts.Duration == 0 {
		opts.Duration = DefaultChurnDuration
	}
	if opts.MaxChanges == 0 {
		opts.MaxChanges = int(math.Ceil(opts.Rate * opts.Duration.Seconds()))
	}
	logger := klog.FromContext(ctx).WithName("clusterfill")
	ctx = klog.NewContext(ctx, logger)

	c := &churner{client: client, rng: rand.New(rand.NewPCG(uint64(opts.Seed), 3<<56))}
	if err := c.listCandidates(ctx, opts.LabelSelector); err != nil {
		return ChurnReport{}, err
	}
	if len(c.pods) == 0 && len(c.nodes) == 0 {
		return ChurnReport{}, fmt.Errorf("churn: no Running pods with container statuses and no nodes match %q", opts.LabelSelector)
	}
	logger.V(1).Info("Churning", "rate", opts.Rate, "duration", opts.Duration, "maxChanges", opts.MaxChanges,
		"pods", len(c.pods), "nodes", len(c.nodes))

	interval := time.Duration(float64(time.Second) / opts.Rate)
	start := time.Now()
	end := start.Add(opts.Duration)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var r ChurnReport
	for k := range opts.MaxChanges {
		due := start.Add(time.Duration(k) * interval)
		if !due.Before(end) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				r.Duration = time.Since(start)
				return r, fmt.Errorf("churn: %w", ctx.Err())
			case <-timer.C:
			}
		} else if -wait > interval {
			r.Late++
		}
		ch, err := c.change(ctx)
		if err != nil {
			r.Duration = time.Since(start)
			return r, fmt.Errorf("churn: %w", err)
		}
		logger.V(4).Info("Changed", "kind", ch.Kind, "object", klog.KRef(ch.Namespace, ch.Name), "change", ch.Change,
			"from", ch.From, "to", ch.To, "resourceVersion", ch.ResourceVersion)
		r.Changes = append(r.Changes, ch)
	}
	r.Duration = time.Since(start)
	logger.V(1).Info("Churn done", "changes", len(r.Changes), "late", r.Late, "took", r.Duration)
	return r, nil
}

type churner struct {
	client kubernetes.Interface
	rng    *rand.Rand
	// The objects as last written, so that each change starts from the
	// current resourceVersion without a read.
	pods  []*corev1.Pod
	nodes []*corev1.Node
}

func (c *churner) listCandidates(ctx context.Context, selector string) error {
	pods, err := c.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		LabelSelector: selector, FieldSelector: "status.phase=" + string(corev1.PodRunning), Limit: churnCandidates,
	})
	if err != nil {
		return fmt.Errorf("churn: listing pods: %w", err)
	}
	// Checked again here: fake clients ignore field selectors and limits.
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) > 0 && len(c.pods) < churnCandidates {
			c.pods = append(c.pods, p)
		}
	}
	nodes, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: churnCandidates})
	if err != nil {
		return fmt.Errorf("churn: listing nodes: %w", err)
	}
	for i := range nodes.Items {
		if len(c.nodes) < churnCandidates {
			c.nodes = append(c.nodes, &nodes.Items[i])
		}
	}
	return nil
}

func (c *churner) change(ctx context.Context) (ChurnChange, error) {
	if len(c.nodes) > 0 && (len(c.pods) == 0 || c.rng.IntN(5) == 0) {
		i := c.rng.IntN(len(c.nodes))
		return c.nodeChange(ctx, i)
	}
	i := c.rng.IntN(len(c.pods))
	return c.podChange(ctx, i)
}

// podMutation changes a pod's status in place and describes the change.
type podMutation func(p *corev1.Pod, now metav1.Time) (from, to string)

func (c *churner) podChange(ctx context.Context, i int) (ChurnChange, error) {
	pod := c.pods[i]
	kind, mutate := c.pickPodMutation(pod)
	ch := ChurnChange{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Change: kind}
	got, err := writeStatus(ctx, c.client.CoreV1().Pods(pod.Namespace), pod, mutate, &ch)
	if err != nil {
		return ch, fmt.Errorf("pod %s/%s: %s: %w", pod.Namespace, pod.Name, kind, err)
	}
	c.pods[i] = got
	return ch, nil
}

// statusClient is the part of a typed client (pods, nodes) that writeStatus
// uses.
type statusClient[T object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// writeStatus applies mutate to a copy of obj and writes its status,
// recording in ch what changed, when it was sent and acknowledged, and the
// resourceVersion written. When someone else wrote the object meanwhile (a
// conflict), it starts over from the object's current state, once.
func writeStatus[T object](ctx context.Context, client statusClient[T], obj T, mutate func(T, metav1.Time) (from, to string), ch *ChurnChange) (T, error) {
	ch.Sent = time.Now()
	upd := obj.DeepCopyObject().(T)
	ch.From, ch.To = mutate(upd, metav1.NewTime(ch.Sent))
	got, err := client.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		if upd, err = client.Get(ctx, obj.GetName(), metav1.GetOptions{}); err == nil {
			ch.From, ch.To = mutate(upd, metav1.NewTime(time.Now()))
			got, err = client.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return got, err
	}
	ch.Acked = time.Now()
	ch.ResourceVersion = got.GetResourceVersion()
	return got, nil
}

// pickPodMutation undoes an earlier phase flip or crash loop, or picks a
// new change: a restart half the time, a phase flip or a crash loop a
// quarter each.
func (c *churner) pickPodMutation(pod *corev1.Pod) (ChangeKind, podMutation) {
	switch {
	case pod.Status.Phase == corev1.PodPending:
		return ChangePhase, flipPhase
	case crashLooping(pod):
		return ChangeCrashLoop, toggleCrashLoop
	}
	switch c.rng.IntN(4) {
	case 0:
		return ChangePhase, flipPhase
	case 1:
		return ChangeCrashLoop, toggleCrashLoop
	default:
		return ChangeRestart, restart
	}
}

func crashLooping(pod *corev1.Pod) bool {
	cs := pod.Status.ContainerStatuses
	return len(cs) > 0 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff"
}

func restart(p *corev1.Pod, now metav1.Time) (string, string) {
	cs := &p.Status.ContainerStatuses[0]
	from := cs.RestartCount
	cs.RestartCount++
	cs.LastTerminationState = terminated(now, 1, "Error")
	cs.State = running(now)
	return strconv.Itoa(int(from)), strconv.Itoa(int(cs.RestartCount))
}

func flipPhase(p *corev1.Pod, now metav1.Time) (string, string) {
	from := p.Status.Phase
	to, ready := corev1.PodPending, corev1.ConditionFalse
	if from == corev1.PodPending {
		to, ready = corev1.PodRunning, corev1.ConditionTrue
	}
	p.Status.Phase = to
	setPodReady(p, ready, now)
	return string(from), string(to)
}

func toggleCrashLoop(p *corev1.Pod, now metav1.Time) (string, string) {
	cs := &p.Status.ContainerStatuses[0]
	if crashLooping(p) {
		cs.State = running(now)
		cs.Ready = true
		setPodReady(p, corev1.ConditionTrue, now)
		return "CrashLoopBackOff", "Running"
	}
	cs.RestartCount++
	cs.LastTerminationState = terminated(now, 1, "Error")
	cs.State = waiting("CrashLoopBackOff", fmt.Sprintf("back-off 10s restarting failed container=%s pod=%s_%s(%s)", cs.Name, p.Name, p.Namespace, p.UID))
	cs.Ready = false
	setPodReady(p, corev1.ConditionFalse, now)
	return "Running", "CrashLoopBackOff"
}

func setPodReady(p *corev1.Pod, status corev1.ConditionStatus, now metav1.Time) {
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status != status {
			c.Status, c.LastTransitionTime = status, now
			c.Reason = ""
			if status != corev1.ConditionTrue {
				c.Reason = "ContainersNotReady"
			}
		}
	}
}

func (c *churner) nodeChange(ctx context.Context, i int) (ChurnChange, error) {
	node := c.nodes[i]
	ch := ChurnChange{Kind: "Node", Name: node.Name, Change: ChangeNodeReady}
	got, err := writeStatus(ctx, c.client.CoreV1().Nodes(), node, flipReady, &ch)
	if err != nil {
		return ch, fmt.Errorf("node %s: %s: %w", node.Name, ChangeNodeReady, err)
	}
	c.nodes[i] = got
	return ch, nil
}

// flipReady sets Ready to False if it is True and to True otherwise,
// adding the condition if the node has none.
func flipReady(n *corev1.Node, now metav1.Time) (string, string) {
	idx := -1
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			idx = i
		}
	}
	if idx < 0 {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown})
		idx = len(n.Status.Conditions) - 1
	}
	cond := &n.Status.Conditions[idx]
	from := cond.Status
	if from == corev1.ConditionTrue {
		cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, "KubeletNotReady", "PLEG is not healthy: pleg was last seen active 3m0s ago"
	} else {
		cond.Status, cond.Reason, cond.Message = corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"
	}
	cond.LastHeartbeatTime, cond.LastTransitionTime = now, now
	return string(from), string(cond.Status)
}
