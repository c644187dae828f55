package progress

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
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

func TestFit(t *testing.T) {
	for _, row := range []struct {
		line  string
		width int
		want  string
	}{
		{"abcdef", 0, "abcdef"}, {"abcdef", 7, "abcdef"}, {"abcdef", 6, "abcde"},
		{"abcdef", 3, "ab"}, {"äöüäöü", 4, "äöü"}, {"äö", 3, "äö"},
	} {
		if got := Fit(row.line, row.width); got != row.want {
			t.Errorf("Fit(%q, %d) = %q, want %q", row.line, row.width, got, row.want)
		}
	}
}

// TestMeterOnTerminal: on a terminal the line appears once the work has
// gone on for a second, and Stop clears it.
func TestMeterOnTerminal(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Skip("no pty:", err)
	}
	defer master.Close()
	defer slave.Close()
	pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: 80})
	screen := make(chan []byte)
	go func() {
		var all []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(all, []byte("files")) {
			n, err := master.Read(buf)
			if err != nil {
				break
			}
			all = append(all, buf[:n]...)
		}
		screen <- all
	}()
	c, m := Start(slave, "Copying /t", false)
	if c == nil || m == nil {
		t.Fatal("a terminal got no meter")
	}
	c.Add(3, 2048)
	got := <-screen
	if !bytes.Contains(got, []byte("\rCopying /t: 3 files, 2.0 KiB, ")) {
		t.Errorf("screen %q", got)
	}
	m.Stop()
	buf := make([]byte, 4096)
	var rest []byte
	for !bytes.HasSuffix(rest, []byte("\r\x1b[K")) {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("after Stop the screen shows %q: %v", rest, err)
		}
		rest = append(rest, buf[:n]...)
	}
}
