// Package history keeps the history of ClusterSummary status figures in
// clusterview's own etcd: raw samples at the recording resolution and
// fixed-interval rollups (count, min, max, sum), each tier in compact chunks
// under its own key prefix, trimmed to its retention by the writer. It holds
// the sample format, the chunk codec, the etcd store and the arithmetic that
// merges samples and rollups to a requested step. It has no HTTP and no
// controller: the recorder and the history subresource both use it.
package history
