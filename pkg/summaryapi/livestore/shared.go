package livestore

import (
	"bytes"
	"io"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/lru"
)

// sharedObjects is how many converted summaries a store keeps for its
// watchers. Watchers read the same recent changes at about the same time,
// so only the states of the last few hundred changes are ever asked for
// again; an older one is converted anew.
const sharedObjects = 1024

// Shared is one state of a summary, converted once and sent by every
// watcher that delivers it. It implements runtime.CacheableObject, as
// k8s.io/apiserver's watch cache does for its events (its cachingObject is
// not exported): the watch handler, the versioning codec and the
// serializers then encode it once per wire format, however many watchers
// send it. Its object is never modified: a watcher that needs another
// resourceVersion or other labels on it sends a copy.
type Shared[T Object] struct {
	obj T

	mu      sync.Mutex
	encoded map[runtime.Identifier]*encoding
}

// encoding is one serialization of a Shared object.
type encoding struct {
	once sync.Once
	raw  []byte
	err  error
}

var _ runtime.CacheableObject = &Shared[Object]{}

// NewShared wraps obj, which nobody may modify any more.
func NewShared[T Object](obj T) *Shared[T] { return &Shared[T]{obj: obj} }

// Object returns the wrapped object, which the caller must not modify.
func (s *Shared[T]) Object() T { return s.obj }

// CacheEncode writes the serialization of the object that id names,
// encoding it with encode only the first time.
func (s *Shared[T]) CacheEncode(id runtime.Identifier, encode func(runtime.Object, io.Writer) error, w io.Writer) error {
	s.mu.Lock()
	if s.encoded == nil {
		s.encoded = make(map[runtime.Identifier]*encoding)
	}
	e := s.encoded[id]
	if e == nil {
		e = &encoding{}
		s.encoded[id] = e
	}
	s.mu.Unlock()
	e.once.Do(func() {
		var buf bytes.Buffer
		// Encoders may set the object's kind: they get a copy.
		e.err = encode(s.GetObject(), &buf)
		e.raw = buf.Bytes()
	})
	if e.err != nil {
		return e.err
	}
	if sp, ok := w.(runtime.Splice); ok {
		sp.Splice(e.raw)
		return nil
	}
	_, err := w.Write(e.raw)
	return err
}

// GetObject returns a copy of the object, the caller's to keep.
func (s *Shared[T]) GetObject() runtime.Object { return s.obj.DeepCopyObject() }

// GetObjectKind returns the wrapped object's kind.
func (s *Shared[T]) GetObjectKind() schema.ObjectKind { return s.obj.GetObjectKind() }

// DeepCopyObject returns a copy of the object, not of the wrapper: a copy
// is made to be changed, and changing it must not reuse the cached
// serializations.
func (s *Shared[T]) DeepCopyObject() runtime.Object { return s.obj.DeepCopyObject() }

// stateKey names one state of a summary: its key and the revision of its
// last change, which changes exactly when the summary does.
type stateKey struct {
	name string
	rev  uint64
}

// sharedCache converts each state of a summary once for all watchers.
type sharedCache[S any, T Object] struct {
	convert func(S) T
	// mu makes looking up, converting and adding one step, so that
	// watchers reading the same change at once share one conversion.
	mu     sync.Mutex
	states *lru.Cache
}

func newSharedCache[S any, T Object](convert func(S) T) *sharedCache[S, T] {
	return &sharedCache[S, T]{convert: convert, states: lru.New(sharedObjects)}
}

// get returns the shared conversion of s, the state k names.
func (c *sharedCache[S, T]) get(k stateKey, s S) *Shared[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.states.Get(k); ok {
		return v.(*Shared[T])
	}
	sh := NewShared(c.convert(s))
	c.states.Add(k, sh)
	return sh
}
