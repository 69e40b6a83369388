package testfixtures

import "runtime"

// LiveHeap returns the bytes of live heap objects after two full
// collections (the second frees what the first's finalizers let go), for
// tests and benchmarks that measure what the objects they built retain.
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
