package network

import (
	"strings"
	"testing"
)

// The machine ID of the host where systemd-nspawn 252 gave the names and
// MACs below (systemd-nspawn -n --network-veth-extra --network-macvlan,
// read with /sys/class/net/*/address on both sides).
const pinnedMachineID = "3d1219c7c4c5404aaa1f6d2a48adfda4"

func TestShortenMatches252(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ve-m1", "ve-m1"},
		{"ve-averyveryverylongmachinename", "ve-averyvermBQ8"},
		{"mv-abcdefghijklmn", "mv-abcdefghkpVS"},
		{"mv-par2", "mv-par2"},
		{"abcdefghijklmno", "abcdefghijklmno"},
	} {
		got, shortened := Shorten(tc.in)
		if got != tc.want || shortened != (tc.in != tc.want) {
			t.Errorf("Shorten(%q) = %q, %v; 252 gives %q", tc.in, got, shortened, tc.want)
		}
	}
}

func TestLinkNames(t *testing.T) {
	if n, long := HostVethName("averyveryverylongmachinename", false); n != "ve-averyvermBQ8" || long != "ve-averyveryverylongmachinename" {
		t.Errorf("HostVethName long: %q %q", n, long)
	}
	if n, long := HostVethName("m1", true); n != "vb-m1" || long != "" {
		t.Errorf("HostVethName bridged: %q %q", n, long)
	}
	if n := MacvlanName("abcdefghijklmn"); n != "mv-abcdefghkpVS" {
		t.Errorf("MacvlanName: %q", n)
	}
	if n := IpvlanName("eth0"); n != "iv-eth0" {
		t.Errorf("IpvlanName: %q", n)
	}
}

func TestValidIfName(t *testing.T) {
	for name, want := range map[string]bool{
		"eth0": true, "ve-m1": true, "a": true, "abcdefghijklmno": true, "0x1": true,
		"": false, "abcdefghijklmnop": false, ".": false, "..": false, "all": false, "default": false,
		"a:b": false, "a/b": false, "a%d": false, "a b": false, "a\tb": false, "123": false, "é": false,
	} {
		if got := ValidIfName(name); got != want {
			t.Errorf("ValidIfName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestParseErrors: every malformed value is one line naming the flag and
// the value, as 252 refuses them (zone "abcdefghijklm" and "a:b",
// veth-extra "a:b:c", interface "abcdefghijklmnopq" were checked live).
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"zone too long", func() error { _, err := ZoneBridgeName("abcdefghijklm"); return err }, "--network-zone=abcdefghijklm: vz-abcdefghijklm is not a valid interface name"},
		{"zone colon", func() error { _, err := ZoneBridgeName("a:b"); return err }, "--network-zone=a:b: vz-a:b is not"},
		{"zone slash", func() error { _, err := ZoneBridgeName("a/b"); return err }, "--network-zone=a/b:"},
		{"extra three parts", func() error { _, err := ParsePair("network-veth-extra", "a:b:c"); return err }, `--network-veth-extra=a:b:c: "b:c" is not a valid interface name`},
		{"extra empty", func() error { _, err := ParsePair("network-veth-extra", ""); return err }, `--network-veth-extra=: "" is not`},
		{"extra empty container", func() error { _, err := ParsePair("network-veth-extra", "a:"); return err }, `--network-veth-extra=a:: "" is not`},
		{"interface too long", func() error { _, err := ParsePair("network-interface", "abcdefghijklmnopq"); return err }, `--network-interface=abcdefghijklmnopq: "abcdefghijklmnopq" is not`},
		{"interface all", func() error { _, err := ParsePair("network-interface", "eth0:all"); return err }, `"all" is not`},
		{"macvlan blank", func() error { _, err := ParseIfName("network-macvlan", "e th"); return err }, "--network-macvlan=e th: not a valid interface name"},
		{"ipvlan empty", func() error { _, err := ParseIfName("network-ipvlan", ""); return err }, "--network-ipvlan=: not a valid"},
		{"bridge numeric", func() error { _, err := ParseIfName("network-bridge", "42"); return err }, "--network-bridge=42: not a valid"},
	} {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line containing %q", tc.name, err, tc.want)
		}
	}
	if p, err := ParsePair("network-veth-extra", "e0"); err != nil || p != (Pair{"e0", "e0"}) {
		t.Errorf("ParsePair(e0) = %v, %v", p, err)
	}
	if p, err := ParsePair("network-interface", "eth1:lan"); err != nil || p != (Pair{"eth1", "lan"}) {
		t.Errorf("ParsePair(eth1:lan) = %v, %v", p, err)
	}
}

func TestMACMatches252(t *testing.T) {
	id, err := ParseMachineID(pinnedMachineID + "\n")
	if err != nil {
		t.Fatal(err)
	}
	long := "averyveryverylongmachinename"
	for _, tc := range []struct {
		machine string
		key     MACKey
		idx     uint64
		want    string
	}{
		{"m1", HostMACKey, 0, "c6:c6:b0:4d:c9:93"},
		{"m1", ContainerMACKey, 0, "0e:11:d5:53:ea:68"},
		{"m1", ExtraHostMACKey, 0, "9e:e7:e4:35:0b:6f"},
		{"m1", ExtraContainerMACKey, 0, "ce:55:95:42:35:6d"},
		{long, HostMACKey, 0, "ea:1a:94:fd:cf:1c"},
		{long, ContainerMACKey, 0, "a2:7f:25:fa:d3:b5"},
		{long, ExtraHostMACKey, 0, "f6:bd:1d:b5:33:24"},
		{long, ExtraContainerMACKey, 0, "2e:bb:85:77:1a:20"},
		{long, ExtraHostMACKey, 1, "62:c8:07:33:fe:ae"},
		{long, ExtraContainerMACKey, 1, "ba:3e:3e:b1:ae:0f"},
		{long, MacvlanMACKey, 0, "ee:45:97:31:64:67"},
		{long, MacvlanMACKey, 1, "82:59:d8:65:b0:a6"},
	} {
		if got := MAC(id, tc.machine, tc.key, tc.idx).String(); got != tc.want {
			t.Errorf("MAC(%s, key %x, %d) = %s; 252 gives %s", tc.machine, tc.key[:2], tc.idx, got, tc.want)
		}
	}
	for _, bad := range []string{"", "3d1219c7", pinnedMachineID + "00", "zz1219c7c4c5404aaa1f6d2a48adfda4"} {
		if _, err := ParseMachineID(bad); err == nil {
			t.Errorf("ParseMachineID(%q) took it", bad)
		}
	}
}
