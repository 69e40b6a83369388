// Package protolist reads the items of a Kubernetes list served as
// application/vnd.kubernetes.protobuf one at a time, as package jsonlist
// does for JSON: a reader of a list with hundreds of thousands of items (a
// PodMetricsList) then holds one encoded item at a time instead of the whole
// body and every decoded item. The generated Unmarshal of the item's type
// decodes each one.
package protolist

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic starts every object the API server encodes in protobuf: the
// envelope (a runtime.Unknown) follows it.
var Magic = []byte{'k', '8', 's', 0}

// MaxItemBytes bounds one item: a larger one is an error rather than an
// allocation of whatever size a corrupt or hostile length says. The API
// server refuses objects above 1.5 MiB (etcd's default request limit), so
// no real item comes near it.
const MaxItemBytes = 16 << 20

// Field numbers of the messages EachItem walks (k8s.io/apimachinery's
// generated.proto): runtime.Unknown's raw, and a list's items, which every
// Kubernetes list type numbers 2 after its ListMeta.
const (
	unknownRaw       = 2
	unknownEncoding  = 3
	listItems        = 2
	wireVarint       = 0
	wireFixed64      = 1
	wireLengthPrefix = 2
	wireFixed32      = 5
)

// EachItem reads the list object r holds (Magic, then a runtime.Unknown
// whose raw bytes are the list message) and calls item with the encoded
// bytes of each element of the list's items, valid until item returns.
// Other fields are skipped. A list without raw bytes, or with a content
// encoding, is an error.
func EachItem(r io.Reader, item func(raw []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return fmt.Errorf("reading the protobuf envelope: %w", err)
	}
	if !bytes.Equal(magic, Magic) {
		return fmt.Errorf("not a Kubernetes protobuf object: starts with %q", magic)
	}
	sawRaw := false
	var buf []byte
	for {
		field, wire, err := readTag(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the protobuf envelope: %w", err)
		}
		switch {
		case field == unknownRaw && wire == wireLengthPrefix && !sawRaw:
			sawRaw = true
			n, err := readLength(br, -1)
			if err != nil {
				return fmt.Errorf("reading the list: %w", err)
			}
			list := &countingReader{r: br, left: n}
			if buf, err = eachOf(list, buf, item); err != nil {
				return err
			}
		case field == unknownEncoding && wire == wireLengthPrefix:
			n, err := readLength(br, MaxItemBytes)
			if err != nil {
				return fmt.Errorf("reading the envelope's content encoding: %w", err)
			}
			if n > 0 {
				return errors.New("the list has a content encoding, which this reader does not decode")
			}
		default:
			if err := skip(br, wire); err != nil {
				return fmt.Errorf("reading the protobuf envelope: %w", err)
			}
		}
	}
	if !sawRaw {
		return errors.New("the protobuf envelope holds no list")
	}
	return nil
}

// eachOf reads the list message list holds, calling item with each element
// of its items, read into buf, which it returns for reuse.
func eachOf(list *countingReader, buf []byte, item func(raw []byte) error) ([]byte, error) {
	for i := 0; list.left > 0; {
		field, wire, err := readTag(list)
		if err != nil {
			return buf, fmt.Errorf("reading the list: %w", err)
		}
		if field != listItems || wire != wireLengthPrefix {
			if err := skip(list, wire); err != nil {
				return buf, fmt.Errorf("reading the list: %w", err)
			}
			continue
		}
		n, err := readLength(list, MaxItemBytes)
		if err != nil {
			return buf, fmt.Errorf("items[%d]: %w", i, err)
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(list, buf); err != nil {
			return buf, fmt.Errorf("items[%d]: %w", i, err)
		}
		if err := item(buf); err != nil {
			return buf, fmt.Errorf("items[%d]: %w", i, err)
		}
		i++
	}
	return buf, nil
}

// byteReader is what the wire format is read from.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// countingReader reads the left bytes of one message out of r, and fails on
// a read past them: a field that claims more than its message holds.
type countingReader struct {
	r    byteReader
	left int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	if c.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	b, err := c.r.ReadByte()
	if err == nil {
		c.left--
	} else if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// readTag reads a field's key. io.EOF means the message ended cleanly.
func readTag(r byteReader) (field uint64, wire byte, err error) {
	key, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, 0, err
	}
	if key>>3 == 0 {
		return 0, 0, errors.New("field number 0")
	}
	return key >> 3, byte(key & 7), nil
}

// readLength reads a length prefix, refused above limit (none when
// negative).
func readLength(r byteReader, limit int64) (int64, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, noEOF(err)
	}
	if n > 1<<62 || (limit >= 0 && int64(n) > limit) {
		return 0, fmt.Errorf("length %d over the limit of %d bytes", n, limit)
	}
	return int64(n), nil
}

// skip reads past the value of a field of wire type wire.
func skip(r byteReader, wire byte) error {
	var n int64
	switch wire {
	case wireVarint:
		_, err := binary.ReadUvarint(r)
		return noEOF(err)
	case wireFixed64:
		n = 8
	case wireFixed32:
		n = 4
	case wireLengthPrefix:
		var err error
		if n, err = readLength(r, -1); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unsupported wire type %d", wire)
	}
	_, err := io.CopyN(io.Discard, r, n)
	return noEOF(err)
}

// noEOF turns the end of the body inside a value into an error.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
