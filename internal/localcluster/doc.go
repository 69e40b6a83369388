// Package localcluster runs a real, minimal Kubernetes control plane on loopback —
// etcd plus kube-apiserver, built from pinned Go modules by hack/build-tools.sh — so
// that clusterview can be developed and tested as a genuine aggregated API server
// without docker, kind or a cluster network.
//
// # What runs
//
// Start launches etcd and kube-apiserver as child processes bound to 127.0.0.1 on
// free ports, generates all PKI in Go (see the pki subpackage), waits for /readyz and
// writes kubeconfig files. There is no kube-controller-manager, scheduler or kubelet:
// objects are stored and served, but nothing reconciles them (Deployments create no
// Pods, deleted Namespaces stay Terminating, no "default" ServiceAccounts appear).
// Because of the last point the ServiceAccount admission plugin is disabled, so Pods
// can be created directly.
//
// # Identities
//
//   - Admin: user "localcluster-admin" in group system:masters (AdminConfig,
//     AdminKubeconfig).
//   - Clusterview: the plain user "clusterview-apiserver" (ClusterviewUser), with a
//     client certificate signed by the cluster CA (ClusterviewKubeconfig). A plain
//     user rather than a system:serviceaccount:… name, because nothing here issues
//     service-account tokens and a certificate that merely claims such a name would
//     be misleading. ApplyClusterviewRBAC grants it what an aggregated API server
//     needs.
//   - Any other user: UserConfig and UserKubeconfig mint client certificates for
//     arbitrary users and groups, e.g. unprivileged users in tests.
//
// # Aggregation without a cluster network
//
// RegisterAPIService creates an ExternalName Service clusterview-system/
// clusterview-apiserver pointing at "localhost" and the APIService
// v1beta1.clusterview.io referring to it with the real port and a caBundle. The
// aggregator dials localhost:<port> and verifies the serving certificate against
// clusterview-apiserver.clusterview-system.svc, which the certificate from
// ClusterviewServing covers. TLS verification is never skipped.
//
// # Binaries
//
// Start expects etcd, kube-apiserver and kubectl in Options.BinDir (default
// DefaultBinDir: $CLUSTERVIEW_BIN_DIR or <repo>/_output/bin). EnsureBinaries runs
// hack/build-tools.sh, which rebuilds only what is missing or stale; a cold build of
// all three takes about 12 minutes on 2 cores, so run "hack/build-tools.sh all" once
// before a short "go test -timeout". EnsureChartRender does the same for chart-render
// (hack/tools/helm), which the tests of charts/clusterview run. With NoProcessesEnv set
// (make test-unit sets it) nothing here starts a process or a build: each such call
// fails with ErrNoProcesses.
//
// # Lifecycle
//
// Stop terminates kube-apiserver and then etcd, each with SIGTERM followed by SIGKILL
// after Options.StopTimeout. Anything talking to the cluster — clusterview above all,
// whose open watches otherwise hold kube-apiserver's shutdown for about a minute —
// should be stopped first; with t.Cleanup that happens naturally when the cluster is
// started before clusterview. The children run in their own process groups and, on
// Linux, receive SIGKILL if the process that started them dies, so a killed test
// binary does not leak a control plane.
//
// The context passed to Start bounds startup only; canceling it later does not stop
// the cluster.
package localcluster
