package localcluster

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/klog/v2"
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

// Start names the missing binaries and the fix, before it starts anything.
// (That hack/build-tools.sh --check reports an empty directory as stale is
// tested in test/integration/controlplane: it runs a process.)
func TestMissingBinaries(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(BinDirEnv, empty)
	_, ctx := ktesting.NewTestContext(t)

	_, err := Start(ctx, Options{Dir: t.TempDir()})
	if err == nil {
		t.Fatal("Start succeeded without binaries")
	}
	for _, want := range []string{"etcd", "kube-apiserver", "kubectl", empty, "hack/build-tools.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// With NoProcessesEnv set (as make test-unit sets it), nothing that would
// start a child process does: not Start with every binary present, not
// StartProcess, not the tool build. The fake binaries would leave a mark if
// anything ran them.
func TestNoProcessesEnvStartsNothing(t *testing.T) {
	t.Setenv(NoProcessesEnv, "1")
	binDir, mark := t.TempDir(), filepath.Join(t.TempDir(), "ran")
	script := "#!/bin/sh\necho \"$0\" >> " + mark + "\nsleep 60\n"
	for _, name := range slices.Concat(controlPlaneBinaries, usageBinaries) {
		if err := os.WriteFile(filepath.Join(binDir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(BinDirEnv, binDir)
	_, ctx := ktesting.NewTestContext(t)

	if c, err := Start(ctx, Options{Dir: t.TempDir(), BinDir: binDir, Usage: true, StartTimeout: 5 * time.Second}); !errors.Is(err, ErrNoProcesses) {
		if c != nil {
			_ = c.Stop()
		}
		t.Errorf("Start: got %v, want ErrNoProcesses", err)
	}
	etcd := filepath.Join(binDir, etcdBinary)
	if p, err := StartProcess(ProcessOptions{Name: "etcd", Path: etcd, LogPath: filepath.Join(t.TempDir(), "etcd.log")}); !errors.Is(err, ErrNoProcesses) {
		if p != nil {
			_ = p.Kill()
		}
		t.Errorf("StartProcess: got %v, want ErrNoProcesses", err)
	}
	if _, err := EnsureBinaries(ctx, klog.Background()); !errors.Is(err, ErrNoProcesses) {
		t.Errorf("EnsureBinaries: got %v, want ErrNoProcesses", err)
	}
	if _, err := EnsureUsageBinaries(ctx, klog.Background()); !errors.Is(err, ErrNoProcesses) {
		t.Errorf("EnsureUsageBinaries: got %v, want ErrNoProcesses", err)
	}
	if _, err := BinariesFresh(ctx); !errors.Is(err, ErrNoProcesses) {
		t.Errorf("BinariesFresh: got %v, want ErrNoProcesses", err)
	}
	if ran, err := os.ReadFile(mark); err == nil {
		t.Errorf("binaries ran although %s is set:\n%s", NoProcessesEnv, ran)
	}
}
