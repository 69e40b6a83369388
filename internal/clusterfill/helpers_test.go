package clusterfill_test

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
)

// equalish is semantic equality: quantities by value, nil and empty
// collections alike.
func equalish(a, b any) bool { return equality.Semantic.DeepEqual(a, b) }

func q(s string) resource.Quantity { return resource.MustParse(s) }
