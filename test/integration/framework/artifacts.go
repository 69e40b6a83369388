package framework

import (
	"fmt"
	"strings"
)

// ExternalEtcdServers are the etcd servers the tests of the external-etcd
// install (the kustomize Component and the chart's etcd.mode=external)
// point clusterview at. Nothing listens there: the tests render and
// dry-run, they do not start the Deployment.
var ExternalEtcdServers = []string{"https://etcd-a.test:2379", "https://etcd-b.test:2379"}

// ExternalEtcdPatch is the kustomization `patches:` section an overlay of
// the external-etcd Component adds, as docs/operations.md tells users to:
// the Deployment's ETCD_SERVERS set to servers.
func ExternalEtcdPatch(servers []string) string {
	return fmt.Sprintf(`patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: clusterview-apiserver, namespace: clusterview-system}
    spec:
      template:
        spec:
          containers:
          - name: clusterview-apiserver
            env:
            - {name: ETCD_SERVERS, value: %q}
`, strings.Join(servers, ","))
}
