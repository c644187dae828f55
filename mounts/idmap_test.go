package mounts

import (
	"reflect"
	"syscall"
	"testing"
)

func TestBindMaps(t *testing.T) {
	shifted := IDs{Shift: 65536 * 10, Size: 65536, ContainerMaps: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 655360, Size: 65536}}}
	for _, tc := range []struct {
		m                  IDMap
		ids                IDs
		srcOwner, dstOwner uint32
		want               []syscall.SysProcIDMap
	}{
		{IDMapNone, shifted, 1234, 0, nil},
		{IDMapContainer, shifted, 1234, 0, shifted.ContainerMaps},
		// The source's owner becomes the container's root, on the host
		// its shift; nothing else is mapped.
		{IDMapRoot, shifted, 1234, 0, []syscall.SysProcIDMap{{ContainerID: 1234, HostID: 655360, Size: 1}}},
		{IDMapRoot, IDs{}, 1234, 0, []syscall.SysProcIDMap{{ContainerID: 1234, HostID: 0, Size: 1}}},
		{IDMapOwner, shifted, 1234, 655360 + 1000, []syscall.SysProcIDMap{{ContainerID: 1234, HostID: 656360, Size: 1}}},
	} {
		if got := bindMaps(tc.m, tc.ids, tc.srcOwner, tc.dstOwner); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("bindMaps(%q, %d, %d) = %v, want %v", tc.m, tc.srcOwner, tc.dstOwner, got, tc.want)
		}
	}
}
