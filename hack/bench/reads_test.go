package main

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

func TestCountList(t *testing.T) {
	nodes := countList(func(context.Context, metav1.ListOptions) (*corev1.NodeList, error) {
		return &corev1.NodeList{Items: make([]corev1.Node, 3)}, nil
	})
	if n, err := nodes(context.Background()); n != 3 || err != nil {
		t.Errorf("nodes: %d, %v; want 3, nil", n, err)
	}
	summaries := countList(func(context.Context, metav1.ListOptions) (*v1beta1.NodeSummaryList, error) {
		return &v1beta1.NodeSummaryList{Items: make([]v1beta1.NodeSummary, 2)}, nil
	})
	if n, err := summaries(context.Background()); n != 2 || err != nil {
		t.Errorf("summaries: %d, %v; want 2, nil", n, err)
	}
	failed := countList(func(context.Context, metav1.ListOptions) (*corev1.NodeList, error) {
		return nil, errors.New("refused")
	})
	if n, err := failed(context.Background()); n != 0 || err == nil {
		t.Errorf("failed list: %d, %v; want 0 and the error", n, err)
	}
}
