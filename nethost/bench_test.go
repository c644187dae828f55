package nethost

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestMeasureSetup logs the mean cost of Setup and Teardown (run with -v);
// it asserts nothing about time. Its host is a test namespace entered by
// path, which costs a setns per step that nspawn, already in the host's
// namespace, does not pay; TestMeasureSetupOwnNamespace measures that.
func TestMeasureSetup(t *testing.T) {
	n := newTestNet(t)
	measure(t, n.host, func(name string) string { return n.container(name) }, n.end)
}

// TestMeasureSetupOwnNamespace measures as nspawn runs, with the host being
// the process's own namespace. Run it only under unshare -n:
//
//	NETHOST_OWN_NETNS=1 unshare -n ./nethost.test -test.run OwnNamespace -test.v
//
// It refuses to run in any namespace but a fresh one.
func TestMeasureSetupOwnNamespace(t *testing.T) {
	if os.Getenv("NETHOST_OWN_NETNS") != "1" {
		t.Skip("set NETHOST_OWN_NETNS=1 and run under unshare -n")
	}
	// A fresh namespace holds lo, down, and nothing else.
	if ifs, err := net.Interfaces(); err != nil || len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp != 0 {
		t.Skip("not in a fresh network namespace: run under unshare -n")
	}
	n := &testNet{t: t, prefix: "nhown" + time.Now().Format("150405")}
	for _, c := range [][]string{{"link", "set", "lo", "up"}, {"link", "add", "up0", "type", "veth", "peer", "name", "up1"},
		{"addr", "add", "192.0.2.1/24", "dev", "up0"}, {"link", "set", "up0", "up"}, {"route", "add", "default", "via", "192.0.2.2"}} {
		ip(t, c...)
	}
	measure(t, "", func(name string) string {
		n.addNS(name)
		ip(t, "link", "add", "ve-"+name, "type", "veth", "peer", "name", "host0", "netns", n.name(name))
		return n.path(name)
	}, func(name string) { exec.Command("ip", "netns", "del", n.name(name)).Run() })
}

func measure(t *testing.T, host string, container func(string) string, end func(string)) {
	ports := []Port{{"tcp", 8080, 80}, {"udp", 8053, 53}}
	const rounds = 20
	var setup, teardown time.Duration
	for i := 0; i < rounds; i++ {
		name := "m" + string(rune('a'+i))
		path := container(name)
		start := time.Now()
		cn, err := Setup(Config{Machine: name, HostNetNS: host, ContainerNetNS: path,
			HostLink: "ve-" + name, ContainerLink: "host0", Ports: ports, HostResolvConf: "nameserver 127.0.0.53\n"})
		setup += time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		if err := cn.Teardown(); err != nil {
			t.Fatal(err)
		}
		teardown += time.Since(start)
		end(name)
	}
	t.Logf("Setup %v, Teardown %v (mean of %d, two ports, DNS stub)", setup/rounds, teardown/rounds, rounds)
}
