package tests

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// devicesScript tries, inside the container, /dev/null and /dev/zero, a
// block device node made inside (7:0, loop0) and the same node made on the
// host and bound in at /mnt/blk, whose refusal can only come from the
// device cgroup: mknod needs no capability there, and a user namespace
// does not keep a host filesystem's nodes from opening.
const devicesScript = `
echo x >/dev/null && head -c1 /dev/zero >/dev/null && echo NULL_OK
if mknod /dev/blk b 7 0 2>/tmp/e; then
	head -c 512 /dev/blk >/dev/null 2>/tmp/e && echo INNER_READ || echo "INNER_REFUSED read: $(cat /tmp/e)"
else
	echo "INNER_REFUSED mknod: $(cat /tmp/e)"
fi
head -c 512 /mnt/blk >/dev/null 2>/tmp/e && echo BOUND_READ || echo "BOUND_REFUSED $(cat /tmp/e)"
{ echo w >/mnt/blk; } 2>/tmp/e && echo WRITE_OK || echo "WRITE_FAILED $(cat /tmp/e)"
`

// boundBlockDevice is a directory on the host holding blk, a node of
// loop0 (block 7:0), to bind into a container.
func boundBlockDevice(t *testing.T) string {
	dir := t.TempDir()
	if err := unix.Mknod(dir+"/blk", unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0))); err != nil {
		t.Fatalf("mknod on the host: %v", err)
	}
	return dir
}

// lineWith is the first line of out starting with prefix, or "".
func lineWith(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// Only the devices systemd-nspawn's DevicePolicy=closed and DeviceAllow=
// give are usable: /dev/null is, a block device is not, whether made
// inside or bound in; and nspawn leaves no cgroup of its own, in the v1
// devices hierarchy either.
func TestDevicesClosed(t *testing.T) {
	unifiedRoot(t)
	before := snapshotHost(t)
	dir := boundBlockDevice(t)
	out := mustRun(t, busyboxTree, "-M", "devclosed", "--bind="+dir+":/mnt", "sh", "-c", devicesScript)
	if !strings.Contains(out, "NULL_OK\n") {
		t.Errorf("/dev/null or /dev/zero unusable inside:\n%s", out)
	}
	if strings.Contains(out, "INNER_READ") {
		t.Errorf("a block device node made inside could be read:\n%s", out)
	} else {
		t.Logf("could not read the block device made inside; refused at %s", strings.TrimPrefix(lineWith(out, "INNER_REFUSED "), "INNER_REFUSED "))
	}
	if l := lineWith(out, "BOUND_"); l == "BOUND_READ" || !strings.Contains(l, "Operation not permitted") {
		t.Errorf("reading the bound block device: %q, want refused with EPERM:\n%s", l, out)
	}
	if l := lineWith(out, "WRITE_"); !strings.Contains(l, "Operation not permitted") {
		t.Errorf("writing the bound block device: %q, want refused with EPERM:\n%s", l, out)
	}
	checkNoLeaks(t, before)
	if _, err := os.Stat("/sys/fs/cgroup/devices/machine.slice/machine-devclosed.scope"); err == nil {
		t.Error("the scope is left in the v1 devices hierarchy")
	}
}

// --property=DeviceAllow= opens one more device, with the access it
// names: read, not write.
func TestDevicesAllowProperty(t *testing.T) {
	unifiedRoot(t)
	if _, err := os.Stat("/sys/block/loop0"); err != nil {
		t.Skip("needs loop0 (block 7:0) to read")
	}
	before := snapshotHost(t)
	dir := boundBlockDevice(t)
	out := mustRun(t, busyboxTree, "-M", "devallow", "--bind="+dir+":/mnt", "--property=DeviceAllow=/dev/loop0 r", "sh", "-c", devicesScript)
	if !strings.Contains(out, "BOUND_READ\n") {
		t.Errorf("DeviceAllow=/dev/loop0 r: the bound node could not be read:\n%s", out)
	}
	if l := lineWith(out, "WRITE_"); !strings.Contains(l, "Operation not permitted") {
		t.Errorf("DeviceAllow=/dev/loop0 r: writing the bound node: %q, want refused with EPERM:\n%s", l, out)
	}
	checkNoLeaks(t, before)
}
