package undo

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// Records come back as written, in order, arguments empty or not.
func TestRecordRoundTrip(t *testing.T) {
	want := []Record{
		{Kind: "cgroup", Args: []string{"/sys/fs/cgroup", "/machine.slice/machine-a.scope", "owned"}},
		{Kind: "lock", Args: []string{"/run/systemd/nspawn/locks/inode-2049:12"}},
		{Kind: "dir", Args: []string{""}},
		{Kind: "bare"},
	}
	var log []byte
	for _, r := range want {
		b, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b...)
	}
	got, torn := decode(log)
	if torn {
		t.Error("a whole log decodes as torn")
	}
	for i := range got {
		if len(got[i].Args) == 0 {
			got[i].Args = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decode = %q, want %q", got, want)
	}
}

// A record cut anywhere (a kill in the middle of its write) is skipped
// with what follows, and every whole record before it is kept.
func TestRecordTornLast(t *testing.T) {
	first, _ := Record{Kind: "lock", Args: []string{"/a"}}.encode()
	second, _ := Record{Kind: "dir", Args: []string{"/tmp/x", "y"}}.encode()
	for cut := 0; cut < len(second); cut++ {
		got, torn := decode(append(append([]byte(nil), first...), second[:cut]...))
		if len(got) != 1 || got[0].Kind != "lock" {
			t.Errorf("cut at %d: decode = %q, want the first record only", cut, got)
		}
		if torn != (cut > 0) {
			t.Errorf("cut at %d: torn = %v", cut, torn)
		}
	}
	// A damaged body is not trusted either.
	bad := append([]byte(nil), second...)
	bad[len(bad)-2] ^= 1
	if got, torn := decode(bad); len(got) != 0 || !torn {
		t.Errorf("a damaged record decodes as %q (torn %v)", got, torn)
	}
}

// What cannot be written as one record is refused when recorded, not
// found garbled after a kill.
func TestRecordRefused(t *testing.T) {
	for _, r := range []Record{
		{Kind: ""},
		{Kind: "dir", Args: []string{"a\x00b"}},
		{Kind: "a\x00"},
		{Kind: "dir", Args: []string{strings.Repeat("x", maxBody)}},
	} {
		if _, err := r.encode(); err == nil {
			t.Errorf("encode(%.20q) succeeded", r)
		}
	}
}

// Whatever the log holds, decode never fails hard, and what it returns
// is a whole-record prefix of the log.
func FuzzDecode(f *testing.F) {
	a, _ := Record{Kind: "lock", Args: []string{"/a"}}.encode()
	b, _ := Record{Kind: "cgroup", Args: []string{"/sys/fs/cgroup", "/x", "owned"}}.encode()
	f.Add(append(a, b...))
	f.Add(append(a, b[:5]...))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, log []byte) {
		records, _ := decode(log)
		var again []byte
		for _, r := range records {
			enc, err := r.encode()
			if err != nil {
				t.Fatalf("decoded record %q does not encode: %v", r, err)
			}
			again = append(again, enc...)
		}
		if !bytes.HasPrefix(log, again) {
			t.Fatalf("decoded records are not a prefix of the log")
		}
	})
}

// TestReplayLateKinds: records are undone last first, the late kinds
// after all the others (a moved interface comes back only once the
// cgroup's processes, recorded before it, are killed).
func TestReplayLateKinds(t *testing.T) {
	var log []byte
	for _, r := range []Record{{Kind: "cgroup", Args: []string{"a"}}, {Kind: "moved", Args: []string{"eth1"}}, {Kind: "link", Args: []string{"ve-x"}}} {
		b, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b...)
	}
	var order []string
	h := func(args []string) error { order = append(order, args[0]); return nil }
	handlers := map[string]Handler{"cgroup": h, "moved": h, "link": h}
	if st := replay(log, handlers, []string{"moved"}, func(err error) { t.Error(err) }); st != 0 {
		t.Fatalf("status %d", st)
	}
	if got := strings.Join(order, " "); got != "ve-x a eth1" {
		t.Errorf("undone in the order %q, want %q", got, "ve-x a eth1")
	}
}
