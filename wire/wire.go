// Package wire is the flat binary record in which nspawn hands the
// container's first process its instructions: unsigned varints, and
// strings as a length and their bytes. Not JSON: decoding JSON costs a
// fresh process about a millisecond of cold reflection code on every
// start. Each package writes and reads its own types with a Writer and a
// Reader, so no package knows another's fields.
package wire

import (
	"encoding/binary"
	"errors"
)

// ErrCorrupt is a record that ends early, or has bytes left over.
var ErrCorrupt = errors.New("truncated or corrupt record")

// Writer appends values to a record.
type Writer struct{ b []byte }

// Bytes is the record so far.
func (w *Writer) Bytes() []byte { return w.b }

// Num appends an unsigned number.
func (w *Writer) Num(n uint64) { w.b = binary.AppendUvarint(w.b, n) }

// Str appends a string.
func (w *Writer) Str(s string) { w.Num(uint64(len(s))); w.b = append(w.b, s...) }

// Flag appends a boolean.
func (w *Writer) Flag(v bool) {
	if v {
		w.Num(1)
	} else {
		w.Num(0)
	}
}

// Strs appends a list of strings.
func (w *Writer) Strs(ss []string) {
	w.Num(uint64(len(ss)))
	for _, s := range ss {
		w.Str(s)
	}
}

// Reader takes values from a record in the order they were written. The
// first error sticks: every later read returns a zero value, and Err
// reports it.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads the record b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

func (r *Reader) fail() { r.err, r.b = ErrCorrupt, nil }

// Num reads an unsigned number.
func (r *Reader) Num() uint64 {
	n, size := binary.Uvarint(r.b)
	if size <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[size:]
	return n
}

// Str reads a string.
func (r *Reader) Str() string {
	n := r.Num()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// Flag reads a boolean.
func (r *Reader) Flag() bool { return r.Num() != 0 }

// Count reads the length of a list whose every element takes at least a
// byte, so a corrupt length cannot make the caller allocate without
// bound.
func (r *Reader) Count() int {
	n := r.Num()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

// Strs reads a list of strings.
func (r *Reader) Strs() []string {
	n := r.Count()
	var ss []string
	for range n {
		ss = append(ss, r.Str())
	}
	return ss
}

// Err is the first error, or ErrCorrupt when bytes are left unread.
func (r *Reader) Err() error {
	if r.err == nil && len(r.b) != 0 {
		return ErrCorrupt
	}
	return r.err
}
