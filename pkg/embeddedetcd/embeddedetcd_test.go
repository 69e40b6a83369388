package embeddedetcd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestRaftLogIsSnapshottedEarly checks that the embedded member snapshots
// after RaftSnapshotCount entries, not etcd's default 10,000, which is what
// bounds the raft log it keeps in memory: a snapshot file appears once a
// little more than RaftSnapshotCount writes went through.
func TestRaftLogIsSnapshottedEarly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	s, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()

	snapshots := func() int {
		entries, err := os.ReadDir(filepath.Join(dir, "member", "snap"))
		if err != nil {
			return 0
		}
		n := 0
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".snap") {
				n++
			}
		}
		return n
	}
	if n := snapshots(); n != 0 {
		t.Fatalf("%d snapshots before any write, want 0", n)
	}
	value := strings.Repeat("x", 1024)
	for i := range RaftSnapshotCount + RaftSnapshotCount/5 {
		if _, err := c.Put(ctx, fmt.Sprintf("/test/%d", i%10), value); err != nil {
			t.Fatal(err)
		}
	}
	// The snapshot is written asynchronously after the triggering entry.
	deadline := time.Now().Add(30 * time.Second)
	for snapshots() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot after %d writes: the raft log is not bounded by RaftSnapshotCount (%d)", RaftSnapshotCount+RaftSnapshotCount/5, RaftSnapshotCount)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
