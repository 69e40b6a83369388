package main

import (
	"strings"
	"testing"
)

// TestParseFileRSS sums Rss per mapped file over several mappings of one
// file, and leaves out anonymous mappings and pseudo-paths.
func TestParseFileRSS(t *testing.T) {
	const smaps = `00400000-02a51000 r-xp 00000000 fe:00 9978628                            /bin/clusterview-apiserver
Size:              39236 kB
Rss:               34436 kB
Pss:               34436 kB
VmFlags: rd ex mr mw me
02a51000-05998000 r--p 02651000 fe:00 9978628                            /bin/clusterview-apiserver
Rss:               44188 kB
VmFlags: rd mr mw me
7f0000000000-7f0280000000 r--s 00000000 fe:00 1234                       /data/member/snap/db
Rss:               19828 kB
c000000000-c004000000 rw-p 00000000 00:00 0
Rss:               65536 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                  48 kB
`
	got, err := parseFileRSS(strings.NewReader(smaps))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"/bin/clusterview-apiserver": (34436 + 44188) << 10,
		"/data/member/snap/db":       19828 << 10,
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for path, n := range want {
		if got[path] != n {
			t.Errorf("%s: got %d bytes, want %d", path, got[path], n)
		}
	}
}
