package clusterfill

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
)

// specHashAnnotation records a hash of the labels and spec an object was
// last written with. The stored spec cannot be compared with the desired one
// directly, because the API server defaults many fields (and admission
// plugins add tolerations, overhead, taints); comparing what we asked for
// with what we asked for last time is exact.
const specHashAnnotation = "clusterview.io/fill-spec-hash"

// Outcome counts what one run did to the objects of one kind.
type Outcome struct {
	// Created objects did not exist before.
	Created int
	// Updated objects existed but differed (spec, labels or status); pods,
	// whose spec is immutable, are deleted and created again instead and
	// count here too.
	Updated int
	// Unchanged objects were already as desired: no write was made.
	Unchanged int
	// Deleted objects carried the demo label but are no longer part of the
	// demo.
	Deleted int
}

// Total is the number of objects the run leaves in place.
func (o Outcome) Total() int { return o.Created + o.Updated + o.Unchanged }

func (o Outcome) String() string {
	s := fmt.Sprintf("%d (%d created, %d updated, %d unchanged", o.Total(), o.Created, o.Updated, o.Unchanged)
	if o.Deleted > 0 {
		s += fmt.Sprintf(", %d stale deleted", o.Deleted)
	}
	return s + ")"
}

// object is what every API type here implements.
type object interface {
	metav1.Object
	runtime.Object
}

// ops tells ensure how to read and write one object of one kind; the
// function fields are typed client methods bound to the object's namespace.
type ops[T object] struct {
	kind   string
	create func(context.Context, T, metav1.CreateOptions) (T, error)
	get    func(context.Context, string, metav1.GetOptions) (T, error)
	delete func(context.Context, string, metav1.DeleteOptions) error
	// update writes a changed spec; nil means the spec is immutable and a
	// drifted object is deleted and created again.
	update func(context.Context, T, metav1.UpdateOptions) (T, error)
	// copySpec copies the desired spec onto a copy of the stored object
	// before update.
	copySpec func(dst, src T)
	// spec is what the hash covers besides labels; nil means labels only.
	spec func(T) any
	// drifted reports drift the hash cannot see (nodes: taints admission
	// added on create); optional.
	drifted func(have, want T) bool
	// initial, if set, returns what to create instead of want; ensure then
	// updates it to want, leaving metadata.generation at 2.
	initial func(want T) T
	// setStatus sets the desired status on obj, a copy of the stored object
	// (its creation time and generation feed the status). nil means no
	// status is written.
	setStatus    func(obj T)
	status       func(T) any
	updateStatus func(context.Context, T, metav1.UpdateOptions) (T, error)
}

// ensure makes the object want exist as desired. have is the stored object
// when the caller's list found one (found). It returns the stored object and
// counts the result in out.
func ensure[T object](ctx context.Context, o ops[T], want T, have T, found bool, out *Outcome) (T, error) {
	return ensureOnce(ctx, o, want, have, found, out, true)
}

func ensureOnce[T object](ctx context.Context, o ops[T], want T, have T, found bool, out *Outcome, retry bool) (T, error) {
	var zero T
	logger := klog.FromContext(ctx)
	stampHash(want, o.spec)
	ref := objectRef(want)
	created, changed := false, false

	if found && o.update == nil && o.isDrifted(have, want) {
		logger.V(2).Info("Recreating object whose spec changed", "kind", o.kind, "object", ref)
		if err := o.delete(ctx, want.GetName(), metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil && !apierrors.IsNotFound(err) {
			return zero, fmt.Errorf("deleting %s %s to recreate it: %w", o.kind, ref, err)
		}
		found, changed = false, true
	}
	if !found {
		obj := want
		if o.initial != nil {
			obj = o.initial(want)
			stampHash(obj, o.spec)
		}
		got, err := o.create(ctx, obj, metav1.CreateOptions{})
		switch {
		case err == nil:
			have, created = got, !changed
			logger.V(3).Info("Created", "kind", o.kind, "object", ref)
		case apierrors.IsAlreadyExists(err) && retry:
			// Not labelled as ours, or created concurrently: adopt it.
			if have, err = o.get(ctx, want.GetName(), metav1.GetOptions{}); err != nil {
				return zero, fmt.Errorf("getting existing %s %s: %w", o.kind, ref, err)
			}
			return ensureOnce(ctx, o, want, have, true, out, false)
		default:
			return zero, fmt.Errorf("creating %s %s: %w", o.kind, ref, err)
		}
	}

	if o.update != nil && o.isDrifted(have, want) {
		upd := have.DeepCopyObject().(T)
		upd.SetLabels(merged(upd.GetLabels(), want.GetLabels()))
		upd.SetAnnotations(merged(upd.GetAnnotations(), want.GetAnnotations()))
		o.copySpec(upd, want)
		got, err := o.update(ctx, upd, metav1.UpdateOptions{})
		if err != nil {
			return zero, fmt.Errorf("updating %s %s: %w", o.kind, ref, err)
		}
		have, changed = got, true
		logger.V(3).Info("Updated", "kind", o.kind, "object", ref)
	}

	if o.setStatus != nil {
		upd := have.DeepCopyObject().(T)
		o.setStatus(upd)
		if !equality.Semantic.DeepEqual(o.status(upd), o.status(have)) {
			got, err := o.updateStatus(ctx, upd, metav1.UpdateOptions{})
			if err != nil {
				return zero, fmt.Errorf("writing status of %s %s: %w", o.kind, ref, err)
			}
			have, changed = got, true
			logger.V(3).Info("Wrote status", "kind", o.kind, "object", ref)
		}
	}

	switch {
	case created:
		out.Created++
	case changed:
		out.Updated++
	default:
		out.Unchanged++
	}
	return have, nil
}

func (o ops[T]) isDrifted(have, want T) bool {
	if have.GetAnnotations()[specHashAnnotation] != want.GetAnnotations()[specHashAnnotation] {
		return true
	}
	for k, v := range want.GetLabels() {
		if cur, ok := have.GetLabels()[k]; !ok || cur != v {
			return true
		}
	}
	return o.drifted != nil && o.drifted(have, want)
}

// stampHash sets specHashAnnotation on obj from its labels and spec.
func stampHash[T object](obj T, spec func(T) any) {
	var s any
	if spec != nil {
		s = spec(obj)
	}
	// encoding/json sorts map keys, so equal content hashes equally.
	data, err := json.Marshal(struct {
		Labels map[string]string `json:"labels"`
		Spec   any               `json:"spec"`
	}{obj.GetLabels(), s})
	if err != nil {
		// Only unsupported types (channels, funcs) make Marshal fail, and API
		// types have none.
		panic(fmt.Sprintf("hashing %s: %v", objectRef(obj), err))
	}
	ann := maps.Clone(obj.GetAnnotations())
	if ann == nil {
		ann = map[string]string{}
	}
	ann[specHashAnnotation] = shortHash(16, string(data))
	obj.SetAnnotations(ann)
}

// merged returns base with over's entries set, leaving base unchanged.
func merged(base, over map[string]string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = make(map[string]string, len(over))
	}
	maps.Copy(out, over)
	return out
}

func objectRef(obj metav1.Object) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// prune deletes the listed objects that are not in keep, counting them in
// out.Deleted.
func prune[T object](ctx context.Context, kind string, listed []T, keep map[string]bool,
	del func(ctx context.Context, namespace, name string) error, out *Outcome) error {
	for _, obj := range listed {
		ref := objectRef(obj)
		if keep[ref] {
			continue
		}
		klog.FromContext(ctx).V(2).Info("Deleting stale demo object", "kind", kind, "object", ref)
		if err := del(ctx, obj.GetNamespace(), obj.GetName()); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting stale %s %s: %w", kind, ref, err)
		}
		out.Deleted++
	}
	return nil
}
