package localcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"k8s.io/klog/v2"
)

const (
	modulePath = "github.com/clusterview/clusterview"
	// BinDirEnv overrides where binaries are looked for and built; hack/build-tools.sh
	// honors the same variable.
	BinDirEnv = "CLUSTERVIEW_BIN_DIR"
	// NoProcessesEnv names a variable that, set to any non-empty value, makes
	// StartProcess and the tool build (EnsureBinaries, EnsureUsageBinaries,
	// BinariesFresh) fail with ErrNoProcesses instead of starting anything. `make test-unit` sets it, so a
	// unit test that would start etcd, kube-apiserver or a build fails rather than
	// quietly turning into an integration test.
	NoProcessesEnv = "CLUSTERVIEW_NO_PROCESSES"

	etcdBinary      = "etcd"
	apiserverBinary = "kube-apiserver"
	kubectlBinary   = "kubectl"
	// The resource metrics pipeline's binaries (Options.Usage), built by
	// hack/build-tools.sh metrics.
	metricsServerBinary = "metrics-server"
	kwokBinary          = "kwok"
	// chartRenderBinary lints and renders charts/clusterview with the Helm
	// library pinned in hack/tools/helm; hack/build-tools.sh chart-render builds it.
	chartRenderBinary = "chart-render"

	// buildToolsStaleExit is hack/build-tools.sh --check's exit code for "something
	// needs building", distinct from the 1 of ordinary failures.
	buildToolsStaleExit = 3
)

// ErrNoProcesses is returned by everything that would start a child process
// while NoProcessesEnv is set.
var ErrNoProcesses = errors.New(NoProcessesEnv + " is set: starting processes is not allowed (unit tests start no control plane and build no tool; such tests belong under test/integration/)")

// processesAllowed returns ErrNoProcesses, naming what, while NoProcessesEnv is
// set.
func processesAllowed(what string) error {
	if os.Getenv(NoProcessesEnv) != "" {
		return fmt.Errorf("%s: %w", what, ErrNoProcesses)
	}
	return nil
}

// RepoRoot returns the root of the clusterview checkout containing the working
// directory, found by walking up to the go.mod that declares the clusterview module.
// Tests run in their package directory, so this works from any package.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getting working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && declaresModule(data, modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// declaresModule reports whether the go.mod content declares module path.
func declaresModule(gomod []byte, path string) bool {
	for line := range strings.Lines(string(gomod)) {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == path
		}
	}
	return false
}

// DefaultBinDir is $CLUSTERVIEW_BIN_DIR if set, else <repo>/_output/bin.
func DefaultBinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return filepath.Abs(dir)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "_output", "bin"), nil
}

// controlPlaneBinaries are what Start always runs; usageBinaries what it adds with
// Options.Usage.
var (
	controlPlaneBinaries = []string{etcdBinary, apiserverBinary, kubectlBinary}
	usageBinaries        = []string{metricsServerBinary, kwokBinary}
)

// checkBinaries returns an actionable error if one of the named binaries is missing.
func checkBinaries(binDir string, names ...string) error {
	var missing []string
	for _, name := range names {
		st, err := os.Stat(filepath.Join(binDir, name))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s missing from %s: run hack/build-tools.sh all metrics (or call localcluster.EnsureBinaries)",
			strings.Join(missing, ", "), binDir)
	}
	return nil
}

// BinariesFresh reports whether hack/build-tools.sh would reuse all binaries as they
// are, i.e. whether EnsureBinaries will be quick. Tests use it to fail early with a
// clear message when a cold build cannot fit into their timeout.
func BinariesFresh(ctx context.Context) (bool, error) {
	err := runBuildTools(ctx, klog.Logger{}, "--check", "all")
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == buildToolsStaleExit:
		return false, nil
	default:
		return false, err
	}
}

// buildMu serializes EnsureBinaries within one process; the script itself takes a
// file lock against other processes.
var buildMu sync.Mutex

// EnsureBinaries runs hack/build-tools.sh all, which builds etcd, kube-apiserver and
// kubectl into DefaultBinDir unless they are already present at the pinned versions,
// and returns that directory. Each line the script prints is logged at info level.
// A cold build takes about 12 minutes on 2 cores; an up-to-date check about a second.
func EnsureBinaries(ctx context.Context, logger klog.Logger) (string, error) {
	return ensureBinaries(ctx, logger, []string{"all"}, controlPlaneBinaries)
}

// EnsureUsageBinaries is EnsureBinaries plus metrics-server and kwok (hack/build-tools.sh
// all metrics), which Start runs with Options.Usage.
func EnsureUsageBinaries(ctx context.Context, logger klog.Logger) (string, error) {
	return ensureBinaries(ctx, logger, []string{"all", "metrics"}, slices.Concat(controlPlaneBinaries, usageBinaries))
}

// EnsureChartRender runs hack/build-tools.sh chart-render, which builds the chart
// renderer into DefaultBinDir unless it is already there at the pinned Helm version
// and the current source, and returns the binary's path.
func EnsureChartRender(ctx context.Context, logger klog.Logger) (string, error) {
	dir, err := ensureBinaries(ctx, logger, []string{chartRenderBinary}, []string{chartRenderBinary})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, chartRenderBinary), nil
}

func ensureBinaries(ctx context.Context, logger klog.Logger, targets, names []string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	binDir, err := DefaultBinDir()
	if err != nil {
		return "", err
	}
	if err := runBuildTools(ctx, logger, targets...); err != nil {
		return "", err
	}
	return binDir, checkBinaries(binDir, names...)
}

func runBuildTools(ctx context.Context, logger klog.Logger, args ...string) error {
	if err := processesAllowed("running hack/build-tools.sh " + strings.Join(args, " ")); err != nil {
		return err
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	script := filepath.Join(root, "hack", "build-tools.sh")
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Dir = root
	// If ctx ends, kill the script's whole process group (it runs go build in the
	// background) rather than only bash.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return ignoreGone(syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)) }
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			lines = append(lines, line)
			logger.Info("Building control-plane binaries", "output", line)
		}
	}()
	err = cmd.Run()
	_ = pw.Close()
	<-done
	if err != nil {
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		return fmt.Errorf("%s %s: %w\n%s", script, strings.Join(args, " "), err, strings.Join(lines, "\n"))
	}
	return nil
}
