package progress

import (
	"os"
	"sync"
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	for _, row := range []struct {
		in   float64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}, {1 << 40, "1.0 TiB"},
	} {
		if got := Size(row.in); got != row.want {
			t.Errorf("Size(%v) = %q, want %q", row.in, got, row.want)
		}
	}
}

func TestLine(t *testing.T) {
	got := Line("Copying /t", 1234, 10<<20, 2*time.Second)
	if want := "Copying /t: 1234 files, 10.0 MiB, 5.0 MiB/s"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	if got := Line("x", 0, 0, 0); got != "x: 0 files, 0 B, 0 B/s" {
		t.Errorf("Line at 0 = %q", got)
	}
}

// TestCounter: concurrent Adds all count; a nil Counter counts nothing
// and does not crash.
func TestCounter(t *testing.T) {
	var c Counter
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				c.Add(1, 10)
			}
		}()
	}
	wg.Wait()
	if c.Files() != 8000 || c.Bytes() != 80000 {
		t.Errorf("counted %d files, %d bytes; want 8000, 80000", c.Files(), c.Bytes())
	}
	var none *Counter
	none.Add(1, 1)
	if none.Files() != 0 || none.Bytes() != 0 {
		t.Errorf("a nil Counter counted")
	}
}

// TestStartNotATerminal: a pipe, or quiet, shows nothing and counts
// nothing.
func TestStartNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if c, m := Start(w, "x", false); c != nil || m != nil {
		t.Errorf("a pipe got a meter")
	}
	if c, m := Start(os.Stderr, "x", true); c != nil || m != nil {
		t.Errorf("quiet got a meter")
	}
	var m *Meter
	m.Stop()
}
