package localcluster

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// fieldManager owns the fields this package applies with server-side apply, so that
// repeated calls are idempotent and never fight with other managers.
const fieldManager = "clusterview-localcluster"

// RBAC object names created by ApplyClusterviewRBAC.
const (
	// InformersClusterRole grants the read-only access clusterview's informers need.
	InformersClusterRole = "clusterview:informers"
	// APIServerClusterRole grants what k8s.io/apiserver's default admission and
	// priority-and-fairness machinery reads from the hosting cluster.
	APIServerClusterRole = "clusterview:apiserver"
	// LeaderElectionRole grants lease access in ClusterviewNamespace.
	LeaderElectionRole = "clusterview:leader-election"
)

var readVerbs = []string{"get", "list", "watch"}

// ApplyClusterviewRBAC creates ClusterviewNamespace and grants user (normally
// ClusterviewUser) everything clusterview needs as an aggregated API server:
//
//   - ClusterRole system:auth-delegator, to delegate authentication and authorization
//     of incoming requests with TokenReviews and SubjectAccessReviews;
//   - Role kube-system/extension-apiserver-authentication-reader, to read the client
//     and request-header CAs it trusts;
//   - ClusterRole clusterview:informers: get/list/watch on nodes, pods, namespaces,
//     resourcequotas and apps deployments, statefulsets and daemonsets, and get/list
//     on metrics.k8s.io nodes and pods (NodeMetrics, PodMetrics) for usage;
//   - ClusterRole clusterview:apiserver: get/list/watch on admission webhook and
//     policy configurations and on flow-control objects, which k8s.io/apiserver's
//     default admission chain and priority and fairness watch (without it clusterview
//     logs forbidden errors forever unless those features are turned off);
//   - Role clusterview-system/clusterview:leader-election on leases.
//
// It uses server-side apply and may be called repeatedly.
func ApplyClusterviewRBAC(ctx context.Context, cfg *rest.Config, user string) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	subject := rbacv1ac.Subject().WithKind(rbacv1.UserKind).WithAPIGroup(rbacv1.GroupName).WithName(user)

	if _, err := client.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace(ClusterviewNamespace), apply); err != nil {
		return fmt.Errorf("applying namespace %s: %w", ClusterviewNamespace, err)
	}

	clusterRoles := []*rbacv1ac.ClusterRoleApplyConfiguration{
		rbacv1ac.ClusterRole(InformersClusterRole).WithRules(
			rbacv1ac.PolicyRule().WithAPIGroups("").
				WithResources("nodes", "pods", "namespaces", "resourcequotas").WithVerbs(readVerbs...),
			rbacv1ac.PolicyRule().WithAPIGroups("apps").
				WithResources("deployments", "statefulsets", "daemonsets").WithVerbs(readVerbs...),
			// The usage reader lists NodeMetrics and PodMetrics.
			rbacv1ac.PolicyRule().WithAPIGroups("metrics.k8s.io").
				WithResources("nodes", "pods").WithVerbs("get", "list"),
		),
		rbacv1ac.ClusterRole(APIServerClusterRole).WithRules(
			rbacv1ac.PolicyRule().WithAPIGroups("admissionregistration.k8s.io").
				WithResources(
					"mutatingwebhookconfigurations", "validatingwebhookconfigurations",
					"validatingadmissionpolicies", "validatingadmissionpolicybindings",
					"mutatingadmissionpolicies", "mutatingadmissionpolicybindings",
				).WithVerbs(readVerbs...),
			rbacv1ac.PolicyRule().WithAPIGroups("flowcontrol.apiserver.k8s.io").
				WithResources("flowschemas", "prioritylevelconfigurations").WithVerbs(readVerbs...),
		),
	}
	for _, cr := range clusterRoles {
		if _, err := client.RbacV1().ClusterRoles().Apply(ctx, cr, apply); err != nil {
			return fmt.Errorf("applying clusterrole %s: %w", *cr.Name, err)
		}
	}

	clusterRoleBindings := map[string]string{ // binding name -> cluster role
		"clusterview:auth-delegator": "system:auth-delegator",
		InformersClusterRole:         InformersClusterRole,
		APIServerClusterRole:         APIServerClusterRole,
	}
	for name, role := range clusterRoleBindings {
		crb := rbacv1ac.ClusterRoleBinding(name).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(role)).
			WithSubjects(subject)
		if _, err := client.RbacV1().ClusterRoleBindings().Apply(ctx, crb, apply); err != nil {
			return fmt.Errorf("applying clusterrolebinding %s: %w", name, err)
		}
	}

	leases := rbacv1ac.Role(LeaderElectionRole, ClusterviewNamespace).WithRules(
		rbacv1ac.PolicyRule().WithAPIGroups("coordination.k8s.io").WithResources("leases").
			WithVerbs("get", "list", "watch", "create", "update", "patch", "delete"),
	)
	if _, err := client.RbacV1().Roles(ClusterviewNamespace).Apply(ctx, leases, apply); err != nil {
		return fmt.Errorf("applying role %s/%s: %w", ClusterviewNamespace, LeaderElectionRole, err)
	}

	roleBindings := []struct{ namespace, name, role string }{
		{metav1.NamespaceSystem, "clusterview:extension-apiserver-authentication-reader", "extension-apiserver-authentication-reader"},
		{ClusterviewNamespace, LeaderElectionRole, LeaderElectionRole},
	}
	for _, b := range roleBindings {
		rb := rbacv1ac.RoleBinding(b.name, b.namespace).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("Role").WithName(b.role)).
			WithSubjects(subject)
		if _, err := client.RbacV1().RoleBindings(b.namespace).Apply(ctx, rb, apply); err != nil {
			return fmt.Errorf("applying rolebinding %s/%s: %w", b.namespace, b.name, err)
		}
	}
	return nil
}

// ApplyClusterviewRBAC grants ClusterviewUser clusterview's permissions; see the
// package-level ApplyClusterviewRBAC.
func (c *Cluster) ApplyClusterviewRBAC(ctx context.Context) error {
	return ApplyClusterviewRBAC(ctx, c.adminConfig, ClusterviewUser)
}
