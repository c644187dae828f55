// Package progress shows how far a long walk over a tree has got (a
// template copy, the -U chown walk): files and bytes done and the rate,
// on one line of a terminal, redrawn a few times a second once the work
// has taken more than a second. The walker bumps a Counter; a ticker
// goroutine reads it and prints, so the walk itself never waits on the
// terminal.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// Counter is what a walker has done so far. Its methods are safe on a nil
// Counter, which counts nothing: a walk nobody watches pays one nil check
// per file.
type Counter struct {
	files, bytes atomic.Int64
}

// Add counts files more files and bytes more bytes done.
func (c *Counter) Add(files, bytes int64) {
	if c == nil {
		return
	}
	c.files.Add(files)
	c.bytes.Add(bytes)
}

// Files and Bytes are the totals so far.
func (c *Counter) Files() int64 {
	if c == nil {
		return 0
	}
	return c.files.Load()
}

func (c *Counter) Bytes() int64 {
	if c == nil {
		return 0
	}
	return c.bytes.Load()
}

const (
	// delay: work that ends sooner shows nothing, so a short start stays
	// as quiet as one without progress.
	delay = time.Second
	// every: often enough to look alive, seldom enough to cost nothing.
	every = 250 * time.Millisecond
)

// Meter prints a Counter's progress until Stop.
type Meter struct {
	counter *Counter
	stop    chan struct{}
	done    chan struct{}
}

// Start starts showing the progress of the work label names (e.g.
// "Copying /srv/template") on w, and returns the Counter the walker bumps.
// With quiet, or when w is not a terminal, nothing is shown and both the
// Counter and the Meter are nil, so the walk counts nothing.
func Start(w *os.File, label string, quiet bool) (*Counter, *Meter) {
	if quiet || w == nil || !term.IsTerminal(int(w.Fd())) {
		return nil, nil
	}
	m := &Meter{counter: &Counter{}, stop: make(chan struct{}), done: make(chan struct{})}
	go m.run(w, label, int(w.Fd()))
	return m.counter, m
}

// Stop ends the display: a line drawn is cleared, so the next message
// starts at the left edge of an empty line. Safe on a nil Meter.
func (m *Meter) Stop() {
	if m == nil {
		return
	}
	close(m.stop)
	<-m.done
}

func (m *Meter) run(w io.Writer, label string, fd int) {
	defer close(m.done)
	start := time.Now()
	wait := time.NewTimer(delay)
	defer wait.Stop()
	select {
	case <-m.stop:
		return
	case <-wait.C:
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		width, _, err := term.GetSize(fd)
		if err != nil {
			width = 0
		}
		// \r and erase-to-end-of-line (EL, CSI K) redraw the one line.
		fmt.Fprintf(w, "\r%s\x1b[K", Fit(Line(label, m.counter.Files(), m.counter.Bytes(), time.Since(start)), width))
		select {
		case <-m.stop:
			fmt.Fprint(w, "\r\x1b[K")
			return
		case <-tick.C:
		}
	}
}

// Line is the progress line: "Copying /t: 1234 files, 56.7 MiB, 12.3 MiB/s".
func Line(label string, files, bytes int64, elapsed time.Duration) string {
	rate := float64(0)
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(bytes) / s
	}
	return fmt.Sprintf("%s: %d files, %s, %s/s", label, files, Size(float64(bytes)), Size(rate))
}

// Fit cuts line to less than width columns (one rune each), so it never
// wraps and \r redraws all of it; width 0 (unknown) leaves it whole.
func Fit(line string, width int) string {
	if width <= 1 || len(line) < width {
		return line
	}
	if r := []rune(line); len(r) >= width {
		return string(r[:width-1])
	}
	return line
}

// Size formats a byte count in binary units, as systemd's FORMAT_BYTES.
func Size(b float64) string {
	const units = "KMGTPE"
	if b < 1024 {
		return fmt.Sprintf("%.0f B", b)
	}
	i := -1
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", b, units[i])
}
