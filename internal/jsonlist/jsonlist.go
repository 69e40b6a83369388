// Package jsonlist reads the items of a Kubernetes list in JSON one at a
// time. A reader of a list with hundreds of thousands of items (a
// PodMetricsList, `kubectl get pods -A -o json`) then holds one decoded item
// at a time instead of the whole body and every item.
package jsonlist

import (
	"encoding/json"
	"errors"
	"fmt"
)

// EachItem walks the list object dec reads ({"kind": ..., "items": [...]})
// and calls item with dec positioned at each element of "items", which item
// decodes. Other keys are skipped. "items": null is an empty list (a Go list
// with no items encodes so); a list without "items", or with it twice, is an
// error.
func EachItem(dec *json.Decoder, item func(dec *json.Decoder) error) error {
	if err := expectDelim(dec, '{', "the list"); err != nil {
		return err
	}
	sawItems := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("reading a key of the list: %w", err)
		}
		// The decoder returns only keys (strings) here.
		if key, _ := tok.(string); key != "items" {
			var skipped json.RawMessage
			if err := dec.Decode(&skipped); err != nil {
				return fmt.Errorf("reading the list's %q: %w", key, err)
			}
			continue
		}
		if sawItems {
			return errors.New(`the list has "items" twice`)
		}
		sawItems = true
		if err := eachOf(dec, item); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}', "the list"); err != nil {
		return err
	}
	if !sawItems {
		return errors.New(`the list has no "items"`)
	}
	return nil
}

// eachOf reads the value of "items": null, or an array whose elements item
// decodes.
func eachOf(dec *json.Decoder, item func(dec *json.Decoder) error) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf(`reading the list's "items": %w`, err)
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf(`reading the list's "items": got %v, want an array`, tok)
	}
	for i := 0; dec.More(); i++ {
		if err := item(dec); err != nil {
			return fmt.Errorf("items[%d]: %w", i, err)
		}
	}
	return expectDelim(dec, ']', `the list's "items"`)
}

// expectDelim reads the next token of dec and fails unless it is want.
func expectDelim(dec *json.Decoder, want json.Delim, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("reading %s: got %v, want %q", what, tok, want)
	}
	return nil
}
