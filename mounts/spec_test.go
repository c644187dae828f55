package mounts

import (
	"golang.org/x/sys/unix"

	"reflect"
	"strings"
	"testing"
)

func TestParseBind(t *testing.T) {
	for _, tc := range []struct {
		spec string
		ro   bool
		want Step
		err  bool
	}{
		{spec: "/srv/data", want: Step{Kind: KindBind, Source: "/srv/data", Target: "/srv/data", Recursive: true}},
		{spec: "/srv/data:/data", want: Step{Kind: KindBind, Source: "/srv/data", Target: "/data", Recursive: true}},
		{spec: "/etc/ssl:/etc/ssl", ro: true, want: Step{Kind: KindBind, Source: "/etc/ssl", Target: "/etc/ssl", Recursive: true, ReadOnly: true}},
		{spec: "/a:/b:norbind", want: Step{Kind: KindBind, Source: "/a", Target: "/b"}},
		{spec: "/a:/b:rbind", want: Step{Kind: KindBind, Source: "/a", Target: "/b", Recursive: true}},
		{spec: "/a/../b//c/", want: Step{Kind: KindBind, Source: "/b/c", Target: "/b/c", Recursive: true}},
		{spec: "rel/dir:/x", want: Step{Kind: KindBind, Source: "/cwd/rel/dir", Target: "/x", Recursive: true}},
		{spec: "+/usr/share:/share", want: Step{Kind: KindBind, Source: "/usr/share", Target: "/share", Recursive: true, SourceInTree: true}},
		{spec: `/we\:ird:/x`, want: Step{Kind: KindBind, Source: "/we:ird", Target: "/x", Recursive: true}},
		{spec: "", err: true},
		{spec: "/a:relative", err: true},
		{spec: "/a:", err: true},
		{spec: "/a:/b:bogus", err: true},
		{spec: "/a:/b:idmap", want: Step{Kind: KindBind, Source: "/a", Target: "/b", Recursive: true, IDMap: IDMapContainer}},
		{spec: "/a:/b:norbind,rootidmap", want: Step{Kind: KindBind, Source: "/a", Target: "/b", IDMap: IDMapRoot}},
		{spec: "/a:/b:owneridmap", want: Step{Kind: KindBind, Source: "/a", Target: "/b", Recursive: true, IDMap: IDMapOwner}},
		{spec: "/a:/b:rootidmap,noidmap", want: Step{Kind: KindBind, Source: "/a", Target: "/b", Recursive: true}},
		{spec: "/a:/b:idmap,bogus", err: true},
		{spec: "/a:/b:idmapx", err: true},
		{spec: "/a:/b:rbind:extra", err: true},
	} {
		got, err := ParseBind(tc.spec, tc.ro, "/cwd")
		if tc.err {
			if err == nil {
				t.Errorf("ParseBind(%q) = %+v, want an error", tc.spec, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseBind(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, tc := range []struct {
		spec, target, data string
		flags              uintptr
		err                bool
	}{
		{spec: "/scratch", target: "/scratch", data: "mode=0755", flags: unix.MS_NODEV | unix.MS_STRICTATIME},
		{spec: "/scratch:size=1m,mode=1777", target: "/scratch", data: "size=1m,mode=1777", flags: unix.MS_NODEV | unix.MS_STRICTATIME},
		{spec: "/var/tmp/", target: "/var/tmp", data: "mode=0755", flags: unix.MS_NODEV | unix.MS_STRICTATIME},
		// Flags as flags, the rest as data (debos's and mkosi's form).
		{spec: "/w:rw,nosuid,noexec,mode=0755", target: "/w", data: "mode=0755", flags: unix.MS_NODEV | unix.MS_STRICTATIME | unix.MS_NOSUID | unix.MS_NOEXEC},
		{spec: "/w:ro,dev,noatime,size=10%", target: "/w", data: "size=10%", flags: unix.MS_RDONLY | unix.MS_NOATIME},
		{spec: "/w:exec,suid", target: "/w", data: "", flags: unix.MS_NODEV | unix.MS_STRICTATIME},
		{spec: "scratch", err: true},
		{spec: "", err: true},
		{spec: "/a:b:c", err: true},
	} {
		got, err := ParseTmpfs(tc.spec)
		if tc.err {
			if err == nil {
				t.Errorf("ParseTmpfs(%q) = %+v, want an error", tc.spec, got)
			}
			continue
		}
		if err != nil || got.Target != tc.target || got.Data != tc.data || got.Flags != tc.flags || got.FSType != "tmpfs" {
			t.Errorf("ParseTmpfs(%q) = %+v, %v; want target %s data %s flags %#x", tc.spec, got, err, tc.target, tc.data, tc.flags)
		}
	}
}

func TestOwnedBy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		steps  func() []Step
		owner  string // in each tmpfs's mount data; "" for none
		devpts string // devpts's mount data
	}{
		{"unshifted", Standard, "", "newinstance,ptmxmode=0666,mode=620,gid=5"},
		{"shifted", func() []Step { return OwnedBy(Standard(), 0x80000) }, ",uid=524288,gid=524288", "newinstance,ptmxmode=0666,mode=620,gid=524293"},
	} {
		for _, s := range tc.steps() {
			switch data := s.Data; s.FSType {
			case "tmpfs":
				if strings.Contains(data, "uid=") != (tc.owner != "") || !strings.HasSuffix(data, tc.owner) {
					t.Errorf("%s: %s: %q, want the owner %q", tc.name, s.Target, data, tc.owner)
				}
			case "devpts":
				if data != tc.devpts {
					t.Errorf("%s: devpts %q, want %q", tc.name, data, tc.devpts)
				}
			}
		}
	}
	std := Standard()
	OwnedBy(std, 0x80000)
	if !reflect.DeepEqual(std, Standard()) {
		t.Error("OwnedBy changed the steps given to it")
	}
}
