package undo

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary is the cleanup stage too, when the watcher execs it
// under Arg0, with testHandlers.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == Arg0 {
		os.Exit(Main(testHandlers()))
	}
	os.Exit(m.Run())
}

// testHandlers: "note FILE TEXT" appends TEXT and a newline to FILE.
func testHandlers() map[string]Handler {
	return map[string]Handler{
		"note": func(args []string) error {
			f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString(args[1] + "\n")
			return err
		},
	}
}

// kill stands for nspawn's death: the pipe closes without a byte, and
// the watcher is collected once its cleanup is over.
func (l *Log) kill(t *testing.T) int {
	unix.Close(l.pipe)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(l.pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	unix.Close(l.log)
	return ws.ExitStatus()
}

// After nspawn's death the records are undone last first; a kind with
// no handler is reported and does not stop the others.
func TestReplayAfterDeath(t *testing.T) {
	notes := filepath.Join(t.TempDir(), "notes")
	l, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		{"note", []string{notes, "first"}},
		{"unknown", nil},
		{"note", []string{notes, "second"}},
	} {
		if err := l.Record(r.Kind, r.Args...); err != nil {
			t.Fatal(err)
		}
	}
	if status := l.kill(t); status != 1 {
		t.Errorf("cleanup stage exit status %d, want 1 (a kind without a handler)", status)
	}
	got, _ := os.ReadFile(notes)
	if string(got) != "second\nfirst\n" {
		t.Errorf("undone as %q, want second, then first", got)
	}
}

// Done: nothing is replayed, and the held fds are closed after the
// watcher has gone.
func TestDoneReplaysNothing(t *testing.T) {
	notes := filepath.Join(t.TempDir(), "notes")
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	l, err := Start(p[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record("note", notes, "never"); err != nil {
		t.Fatal(err)
	}
	l.Done()
	l.Done() // twice is harmless
	if _, err := os.Stat(notes); !os.IsNotExist(err) {
		t.Errorf("Done, yet the log was replayed (%v)", err)
	}
	// The held write end is closed everywhere: reading gives end-of-file.
	if n, err := unix.Read(p[0], make([]byte, 1)); n != 0 || err != nil {
		t.Errorf("held fd still open somewhere: read %d, %v", n, err)
	}
	if err := l.Record("note", notes, "late"); err == nil {
		t.Error("a record after Done succeeded")
	}
}

// A nil Log records nothing and fails nothing.
func TestNilLog(t *testing.T) {
	var l *Log
	if err := l.Record("note", "x"); err != nil {
		t.Error(err)
	}
	l.Done()
}
