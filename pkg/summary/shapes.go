package summary

import (
	"encoding/binary"
	"slices"
)

// The pods of one workload ask for the same amounts, so a cluster of
// 150,000 pods holds only a few hundred distinct resource vectors. Each
// distinct vector is kept once, as a podShape that pod records point to
// and count: a record is then a few words, and comparing two records'
// resources is comparing two pointers. A shape goes when its last pod
// does, so a hostile pod that invents amounts costs its own shape only
// while it exists.

// podShape is the resources part of a pod record, shared by every pod with
// the same amounts. It is immutable once interned: a pod whose amounts
// change points to another shape.
type podShape struct {
	// res is sorted by id; empty for pods that hold no tracked resources.
	res []podRes
	// untracked holds the amounts of resource names the engine does not
	// track (resnames.go); empty for nearly every shape.
	untracked []ResourceUsage
	noLimit   uint8 // bit i set: unbounded limit for resource i (see unboundedTracked)
	refs      int32 // pod records pointing here
	key       string
}

// shapeTable interns podShapes by an encoding of their content.
type shapeTable struct {
	byKey map[string]*podShape
	buf   []byte // scratch for the key of a lookup
}

func newShapeTable() shapeTable { return shapeTable{byKey: make(map[string]*podShape)} }

// intern returns the shape holding res, untracked and noLimit, creating it
// (with no references yet) when it is new. It copies res and untracked
// only when it creates a shape, so callers may pass scratch memory. A pod
// with no resources at all has the nil shape.
func (t *shapeTable) intern(res []podRes, untracked []ResourceUsage, noLimit uint8) *podShape {
	if len(res) == 0 && len(untracked) == 0 && noLimit == 0 {
		return nil
	}
	// Every part is length-prefixed, so distinct contents never share a key.
	b := append(t.buf[:0], noLimit)
	b = binary.AppendUvarint(b, uint64(len(res)))
	for _, r := range res {
		b = binary.AppendUvarint(b, uint64(r.id))
		b = binary.AppendVarint(b, r.requests)
		b = binary.AppendVarint(b, r.limits)
	}
	for _, u := range untracked {
		b = binary.AppendUvarint(b, uint64(len(u.Name)))
		b = append(b, u.Name...)
		b = binary.AppendVarint(b, u.Requests)
		b = binary.AppendVarint(b, u.Limits)
	}
	t.buf = b
	if s, ok := t.byKey[string(b)]; ok {
		return s
	}
	s := &podShape{res: slices.Clone(res), untracked: slices.Clone(untracked), noLimit: noLimit, key: string(b)}
	t.byKey[s.key] = s
	return s
}

// replace moves one pod record's reference from old to next, and forgets
// old when that was its last one.
func (t *shapeTable) replace(old, next *podShape) {
	if old == next {
		return
	}
	if next != nil {
		next.refs++
	}
	if old != nil {
		old.refs--
		if old.refs == 0 {
			delete(t.byKey, old.key)
		}
	}
}

// The accessors below read a record's shape; a nil shape holds nothing.

func (r *podRec) resources() []podRes {
	if r.shape == nil {
		return nil
	}
	return r.shape.res
}

func (r *podRec) untracked() []ResourceUsage {
	if r.shape == nil {
		return nil
	}
	return r.shape.untracked
}

func (r *podRec) noLimit() uint8 {
	if r.shape == nil {
		return 0
	}
	return r.shape.noLimit
}
