package undo

import (
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// Handler undoes one recorded thing from its record's arguments. It must
// be idempotent, and do nothing harmful when the thing was never made
// (nspawn was killed between the record and the making) or is no longer
// nspawn's (another container holds it now).
type Handler func(args []string) error

// Main is the cleanup stage, handlers by kind. Started by waitThenExec,
// it finds fd 0 at end-of-file already; in the fallback it does the
// waiting itself. It replays the log last record first, so a thing is
// undone before what it was made in or on. A kind with no handler, or a
// handler's failure, does not stop the others; the exit status says
// whether all went. Records of the late kinds are undone after all the
// others: what can only be undone once the container's processes are
// gone (an interface the kernel hands back when its namespace dies),
// recorded after the cgroup that kills them.
func Main(handlers map[string]Handler, late ...string) int {
	var b [1]byte
	for {
		n, err := unix.Read(0, b[:])
		if err == unix.EINTR {
			continue
		}
		if n == 1 {
			return 0
		}
		break
	}
	log, err := readLog(fdLog)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Arg0, err)
		return 1
	}
	return replay(log, handlers, late, func(err error) { fmt.Fprintf(os.Stderr, "%s: %v\n", Arg0, err) })
}

// replay undoes the records of log, last first, telling fail of what
// did not go; its exit status is 1 if anything did not.
func replay(log []byte, handlers map[string]Handler, late []string, fail func(error)) int {
	records, _ := decode(log)
	var order []Record
	for _, last := range []bool{false, true} {
		for i := len(records) - 1; i >= 0; i-- {
			if slices.Contains(late, records[i].Kind) == last {
				order = append(order, records[i])
			}
		}
	}
	status := 0
	for _, r := range order {
		h, ok := handlers[r.Kind]
		if !ok {
			fail(fmt.Errorf("no handler for a record of kind %q", r.Kind))
			status = 1
			continue
		}
		if err := h(r.Args); err != nil {
			fail(fmt.Errorf("undo %s %q: %w", r.Kind, r.Args, err))
			status = 1
		}
	}
	return status
}

// readLog reads the whole of the memfd at fd, from its start: the offset
// it shares with nspawn's appends is at the end.
func readLog(fd int) ([]byte, error) {
	var log []byte
	buf := make([]byte, 64<<10)
	for off := int64(0); ; {
		n, err := unix.Pread(fd, buf, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the log: %w", err)
		}
		if n == 0 {
			return log, nil
		}
		log = append(log, buf[:n]...)
		off += int64(n)
	}
}
