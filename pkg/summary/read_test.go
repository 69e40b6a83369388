package summary

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestCompareJoined(t *testing.T) {
	words := []string{"", "a", "a-b", "a/", "a/x", "a-b/y", "ab", "b", "a/xy", "a/x/"}
	for _, prefix := range words {
		for _, name := range words {
			for _, s := range words {
				if got, want := compareJoined(s, prefix, "/", name), strings.Compare(s, prefix+"/"+name); got != want {
					t.Errorf("compareJoined(%q, %q, \"/\", %q) = %d, want %d", s, prefix, name, got, want)
				}
				if got, want := compareJoined(s, prefix, name), strings.Compare(s, prefix+name); got != want {
					t.Errorf("compareJoined(%q, %q, %q) = %d, want %d", s, prefix, name, got, want)
				}
			}
		}
	}
}

// firstNames keeps what sorting every name and cutting the list keeps.
func TestFirstNames(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		limit := 1 + r.IntN(6)
		var all []string
		f := firstNames{limit: limit}
		for range r.IntN(30) {
			ns, name := fmt.Sprintf("ns%d", r.IntN(4))+[]string{"", "-x"}[r.IntN(2)], fmt.Sprint("p", r.IntN(50))
			all = append(all, ns+"/"+name)
			f.offer(ns, "/", name)
		}
		slices.Sort(all)
		if want := all[:min(limit, len(all))]; !slices.Equal(f.names, want) {
			t.Fatalf("limit %d of %v: got %v, want %v", limit, all, f.names, want)
		}
	}
}
