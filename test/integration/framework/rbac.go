package framework

import (
	"context"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// rbacTimeout bounds the wait for kube-apiserver's RBAC authorizer to see a
// new binding, which usually takes moments.
const rbacTimeout = 30 * time.Second

// User is an RBAC subject for one user.
func User(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}
}

// Group is an RBAC subject for every member of a group.
func Group(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: name}
}

// BindClusterRole binds subject to the existing ClusterRole role through a
// ClusterRoleBinding named name, deleted when the test ends.
func BindClusterRole(t testing.TB, kube kubernetes.Interface, name, role string, subject rbacv1.Subject) {
	t.Helper()
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{subject},
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("binding %s to ClusterRole %s: %v", subject.Name, role, err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// GrantClusterSummaries lets subject use verbs on clustersummaries: it
// creates a ClusterRole and a binding, both named name and deleted when the
// test ends, and waits until kube-apiserver's own authorizer allows every
// verb. It asks kube-apiserver, not clusterview, because clusterview's
// delegated authorizer caches an early denial for ten seconds.
func GrantClusterSummaries(t testing.TB, kube kubernetes.Interface, name string, subject rbacv1.Subject, verbs ...string) {
	t.Helper()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"clusterview.io"}, Resources: []string{"clustersummaries"}, Verbs: verbs}},
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ClusterRole %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	BindClusterRole(t, kube, name, name, subject)

	review := authorizationv1.SubjectAccessReviewSpec{User: subject.Name}
	if subject.Kind == rbacv1.GroupKind {
		// Any member will do; the name only has to be a user.
		review = authorizationv1.SubjectAccessReviewSpec{User: subject.Name + "-member", Groups: []string{subject.Name}}
	}
	for _, verb := range verbs {
		review.ResourceAttributes = &authorizationv1.ResourceAttributes{Group: "clusterview.io", Resource: "clustersummaries", Verb: verb}
		err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, rbacTimeout, true, func(ctx context.Context) (bool, error) {
			sar, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: review}, metav1.CreateOptions{})
			return err == nil && sar.Status.Allowed, nil
		})
		if err != nil {
			t.Fatalf("kube-apiserver never allowed %s %q on clustersummaries: %v", subject.Kind, subject.Name, err)
		}
	}
}
