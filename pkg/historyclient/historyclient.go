// Package historyclient reads the history subresource of a ClusterSummary
// with its query parameters (since, until, step, fields). The generated
// clientset's GetHistory can only send metav1.GetOptions, so it always
// reads the server's default window; this is the call with parameters.
package historyclient

import (
	"context"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	"github.com/clusterview/clusterview/pkg/generated/clientset/versioned/scheme"
)

// Get reads the history of the named ClusterSummary.
func Get(ctx context.Context, client clientset.Interface, name string, opts *v1beta1.ClusterSummaryHistoryOptions) (*v1beta1.ClusterSummaryHistory, error) {
	out := &v1beta1.ClusterSummaryHistory{}
	err := client.ClusterviewV1beta1().RESTClient().Get().
		Resource("clustersummaries").
		Name(name).
		SubResource("history").
		VersionedParams(opts, scheme.ParameterCodec).
		Do(ctx).
		Into(out)
	return out, err
}
