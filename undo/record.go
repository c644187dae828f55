package undo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// A record on the log is one write: an 8-byte header, the body's length
// and its CRC-32C (both little-endian), then the body, the kind and its
// arguments each ended by a NUL. A SIGKILL in the middle of a write to
// the memfd leaves a short last record (the kernel stops copying when a
// fatal signal is pending); its length or checksum then does not match,
// and the decoder stops there: the thing it announced was never begun.
const headerSize = 8

// maxBody bounds one record, so a corrupt length cannot make the
// cleanup stage allocate much.
const maxBody = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one entry of the log: what kind of thing is about to be
// made, and what its handler needs to undo it.
type Record struct {
	Kind string
	Args []string
}

// encode is r's bytes on the log.
func (r Record) encode() ([]byte, error) {
	if r.Kind == "" {
		return nil, errors.New("undo record: empty kind")
	}
	body := 0
	for _, f := range append([]string{r.Kind}, r.Args...) {
		if strings.IndexByte(f, 0) >= 0 {
			return nil, fmt.Errorf("undo record %s: a NUL in %q", r.Kind, f)
		}
		body += len(f) + 1
	}
	if body > maxBody {
		return nil, fmt.Errorf("undo record %s: %d bytes, more than %d", r.Kind, body, maxBody)
	}
	b := make([]byte, headerSize, headerSize+body)
	for _, f := range append([]string{r.Kind}, r.Args...) {
		b = append(append(b, f...), 0)
	}
	binary.LittleEndian.PutUint32(b[0:], uint32(body))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[headerSize:], castagnoli))
	return b, nil
}

// decode reads the records of log, in order, up to the first one that
// is torn or damaged; torn says whether there was one.
func decode(log []byte) (records []Record, torn bool) {
	for len(log) > 0 {
		if len(log) < headerSize {
			return records, true
		}
		n := binary.LittleEndian.Uint32(log[0:])
		if n == 0 || n > maxBody || uint64(n) > uint64(len(log)-headerSize) {
			return records, true
		}
		body := log[headerSize : headerSize+int(n)]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(log[4:]) || body[n-1] != 0 {
			return records, true
		}
		fields := strings.Split(string(body[:n-1]), "\x00")
		if fields[0] == "" {
			return records, true
		}
		records = append(records, Record{Kind: fields[0], Args: fields[1:]})
		log = log[headerSize+int(n):]
	}
	return records, false
}
