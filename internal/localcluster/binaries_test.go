package localcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/klog/v2/ktesting"
)

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "hack", "build-tools.sh")); err != nil {
		t.Errorf("RepoRoot() = %s, which has no hack/build-tools.sh: %v", root, err)
	}
}

// An empty binary directory is reported as stale (exit code 3), not as an error,
// and Start names the missing binaries and the fix.
func TestMissingBinaries(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(BinDirEnv, empty)
	_, ctx := ktesting.NewTestContext(t)

	fresh, err := BinariesFresh(ctx)
	if err != nil {
		t.Fatalf("BinariesFresh: %v", err)
	}
	if fresh {
		t.Error("BinariesFresh reported an empty directory as up to date")
	}

	_, err = Start(ctx, Options{Dir: t.TempDir()})
	if err == nil {
		t.Fatal("Start succeeded without binaries")
	}
	for _, want := range []string{"etcd", "kube-apiserver", "kubectl", empty, "hack/build-tools.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
