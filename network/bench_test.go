package network

import (
	"os"
	"testing"
)

// BenchmarkDialAndGet is one rtnetlink connection in a namespace given by
// fd plus one request (RTM_GETLINK of lo), the cost every start pays once.
func BenchmarkDialAndGet(b *testing.B) {
	needRootB(b)
	ns := newNS(b)
	for i := 0; i < b.N; i++ {
		c, err := dial(ns)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := linkByName(c, "lo"); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkDialHere is the same in the caller's own namespace: the
// difference is the library's locked-thread setns dance.
func BenchmarkDialHere(b *testing.B) {
	needRootB(b)
	for i := 0; i < b.N; i++ {
		c, err := dial(-1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := linkByName(c, "lo"); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkVeth is one veth pair made with its peer in another namespace
// (the one request, and the alias read-back); its deletion, slow for the
// kernel's RCU grace periods, is not timed.
func BenchmarkVeth(b *testing.B) {
	needRootB(b)
	host, ctr := newNS(b), newNS(b)
	l, err := Open(host, ctr, "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < b.N; i++ {
		if err := l.AddVeth(Veth{Host: "ve-bench", Container: "host0"}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := l.Delete("ve-bench"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func needRootB(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to make network namespaces")
	}
}
