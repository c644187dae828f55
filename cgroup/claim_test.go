package cgroup

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A claim's name is the cgroup's path where it fits in sun_path, and a
// hash of it where it does not; either way one path, one name.
func TestClaimName(t *testing.T) {
	short := "/sys/fs/cgroup/unified/machine.slice/machine-a.scope"
	if got := claimName(short); got != claimPrefix+short {
		t.Errorf("claimName(%q) = %q", short, got)
	}
	long := "/sys/fs/cgroup/machine.slice/machine-" + strings.Repeat("x", 100) + ".scope"
	got := claimName(long)
	if len(got) >= len(unix.RawSockaddrUnix{}.Path) || !strings.HasPrefix(got, claimPrefix) {
		t.Errorf("claimName of a long path is %q (%d bytes)", got, len(got))
	}
	if got == claimName(long+"x") {
		t.Error("two long paths share a name")
	}
}

// A claim is exclusive while held and free once its socket is closed.
func TestClaimExclusive(t *testing.T) {
	dir := "/nspawn-test/" + t.Name()
	fd, err := claim(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fd2, err := claim(dir, 0); !errors.Is(err, ErrBusy) {
		unix.Close(fd2)
		t.Errorf("second claim: %v, want ErrBusy", err)
	}
	unix.Close(fd)
	fd, err = claim(dir, 0)
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	unix.Close(fd)
}
