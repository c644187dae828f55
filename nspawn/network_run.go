package nspawn

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/nethost"
	"github.com/nspawn/nspawn/network"
)

// containerNet is what nspawn holds of the container's network while it
// runs: the two namespaces, the links it made or moved, and what it must
// give back at the end.
type containerNet struct {
	hostNS, containerNS int
	links               *network.Links
	// made are host-side links to delete at the end (a bridge port must
	// go before its zone can); moved are interfaces to give back.
	made  []string
	moved []network.Moved
	zone  *network.Zone
	// host is nspawn's own configuration of the veth: addresses, route,
	// NAT, ports, DNS (where no systemd-networkd does it).
	host *nethost.Network
}

// connectNetwork gives the container its links while its first process
// sets itself up, each made from the host's side straight into the
// container's namespace (recorded in the undo log first), then tells it
// they are there: its payload starts after that. Made in parallel with
// the child's own work, the links cost the start little.
func (c *container) connectNetwork() error {
	if c.linksMade == nil {
		return nil
	}
	err := <-c.linksMade
	c.linksMade = nil
	if err != nil {
		return err
	}
	return sendNetworkReady(c.status, c.net.resolvConf(c.plan))
}

// startLinks starts making the links as soon as the child exists, on
// another thread, while the staging thread mounts its /proc and /sys and
// nspawn admits it to its cgroups: the links' netlink and nftables round
// trips cost the start little that way. connectNetwork waits for them.
func (c *container) startLinks() {
	if len(c.plan.Network.Links) == 0 {
		return
	}
	done := make(chan error, 1)
	c.linksMade = done
	// Only machined is told the veth's index: no lookup otherwise.
	registers := c.plan.Cgroup.admitsAfterPivot() && c.plan.Cgroup.Register
	if registers && slices.ContainsFunc(c.plan.Network.Links, func(l LinkPlan) bool { return l.Kind == LinkVeth }) {
		c.hostVeth = make(chan int32, 1)
	}
	go func() {
		err := c.makeLinks()
		if c.hostVeth != nil {
			close(c.hostVeth) // after its value, if any: links failed otherwise
		}
		done <- err
	}()
}

// awaitHostVeth returns the interfaces machined is told about, as
// systemd-nspawn tells it: the veth's host end, once it is made (its
// configuration goes on meanwhile); none without one, or where nspawn
// registers with no machined.
func (c *container) awaitHostVeth() []int32 {
	if c.hostVeth == nil {
		return nil
	}
	if i, ok := <-c.hostVeth; ok {
		return []int32{i}
	}
	return nil
}

// awaitLinks waits for links still being made, on a start that failed:
// what they made is then undone with the rest.
func (c *container) awaitLinks() {
	if c.linksMade != nil {
		<-c.linksMade
		c.linksMade = nil
	}
}

// makeLinks makes, moves and configures the container's links.
func (c *container) makeLinks() error {
	n := &c.plan.Network
	cn := &containerNet{hostNS: -1, containerNS: -1}
	c.net = cn
	var err error
	if cn.hostNS, err = unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open the host's network namespace: %w", err)
	}
	// Held until the end: a moved interface is given back from it after
	// the payload is gone.
	if cn.containerNS, err = unix.Open("/proc/"+strconv.Itoa(c.pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open the container's network namespace: %w", err)
	}
	owner := "nspawn " + c.plan.Machine + " " + strconv.Itoa(os.Getpid())
	if cn.links, err = network.Open(cn.hostNS, cn.containerNS, owner, c.undo); err != nil {
		return err
	}
	id, _ := network.ParseMachineID(c.plan.HostMachineID)
	var extra, macvlan uint64
	var inside []string
	for _, l := range n.Links {
		switch l.Kind {
		case LinkVeth, LinkVethExtra:
			err = cn.addVeth(c.plan, l, id, &extra)
			if err == nil && l.Kind == LinkVeth && c.hostVeth != nil {
				var index int
				if index, err = cn.links.Index(l.Host); err == nil {
					c.hostVeth <- int32(index)
				}
			}
		case LinkMacvlan:
			err = cn.links.AddMacvlan(l.Host, l.Container, network.MAC(id, c.plan.Machine, network.MacvlanMACKey, macvlan))
			macvlan++
		case LinkIpvlan:
			err = cn.links.AddIpvlan(l.Host, l.Container)
		case LinkMoved:
			var m network.Moved
			if m, err = cn.links.MoveIn(network.Pair{Host: l.Host, Container: l.Container}); err == nil {
				cn.moved = append(cn.moved, m)
			}
		}
		if err != nil {
			return err
		}
		inside = append(inside, l.Container)
	}
	if !n.Configure {
		return nil
	}
	if err := cn.links.UpInContainer(inside...); err != nil {
		return err
	}
	return cn.configure(c.plan, c.pid, c.undo, c.out)
}

// configure addresses the veth (or the zone's bridge) and makes the
// container's NAT, port forwards and DNS; a user's bridge belongs to its
// own network and is left alone.
func (cn *containerNet) configure(plan *Plan, pid int, undo recorder, out reporter) (err error) {
	i := slices.IndexFunc(plan.Network.Links, func(l LinkPlan) bool { return l.Kind == LinkVeth })
	if i < 0 {
		return nil
	}
	l := plan.Network.Links[i]
	if l.Bridge != "" && !l.Zone {
		return nil
	}
	cfg := nethost.Config{
		Machine: plan.Machine, ContainerNetNS: "/proc/" + strconv.Itoa(pid) + "/ns/net",
		HostLink: l.Host, ContainerLink: l.Container, Zone: l.Zone,
		Ports: plan.Network.Ports, HostResolvConf: plan.Network.HostResolvConf, Undo: undo,
		MachineID: plan.HostMachineID,
	}
	if l.Zone {
		cfg.HostLink = l.Bridge
	}
	if cn.host, err = nethost.Setup(cfg); err != nil {
		if errors.Is(err, unix.EROFS) {
			return fmt.Errorf("%w: /proc/sys is read-only here (nspawn in a container?), so nspawn cannot configure the link; leave it to the network inside with --network-configure=networkd", err)
		}
		return err
	}
	for _, note := range cn.host.Notes {
		out.Info("%s", note)
	}
	return nil
}

// resolvConf is what the container is shown as /etc/resolv.conf, "" to
// leave the tree's: nspawn's own only where --resolv-conf=auto left it
// to nspawn (Plan.Network.ResolvConf); any other mode is the tree
// files' to apply.
func (cn *containerNet) resolvConf(plan *Plan) string {
	if cn == nil || cn.host == nil || !plan.Network.ResolvConf {
		return ""
	}
	return cn.host.ResolvConf
}

// addVeth makes a veth pair with systemd-nspawn's names and MACs, and
// puts its host side on its bridge.
func (cn *containerNet) addVeth(plan *Plan, l LinkPlan, id [16]byte, extra *uint64) error {
	v := network.Veth{Host: l.Host, Container: l.Container, Up: l.Bridge != "" || plan.Network.Configure, Flag: "--network-veth"}
	if l.Kind == LinkVeth {
		_, v.AltName = network.HostVethName(plan.Machine, l.Bridge != "")
		v.HostMAC = network.MAC(id, plan.Machine, network.HostMACKey, 0)
		v.ContainerMAC = network.MAC(id, plan.Machine, network.ContainerMACKey, 0)
	} else {
		v.Flag = "--network-veth-extra=" + l.Host
		v.HostMAC = network.MAC(id, plan.Machine, network.ExtraHostMACKey, *extra)
		v.ContainerMAC = network.MAC(id, plan.Machine, network.ExtraContainerMACKey, *extra)
		*extra++
	}
	if err := cn.links.AddVeth(v); err != nil {
		return err
	}
	cn.made = append(cn.made, l.Host)
	switch {
	case l.Zone:
		// systemd-nspawn's own lock file, so its starts and ours agree
		// on the bridge; /run/systemd is there on a systemd host, and
		// made by nspawn's tree locks on others.
		if err := os.MkdirAll("/run/systemd", 0o755); err != nil {
			return fmt.Errorf("--network-zone: %w", err)
		}
		// The bridge's MAC as a machine's of the zone's name: stable.
		cn.zone = &network.Zone{Bridge: l.Bridge, Lock: network.ZoneLock, MAC: network.MAC(id, l.Bridge, network.HostMACKey, 0)}
		return cn.links.JoinZone(l.Host, *cn.zone)
	case l.Bridge != "":
		return cn.links.JoinBridge(l.Host, l.Bridge, "--network-bridge="+l.Bridge)
	}
	return nil
}

// disconnect gives the moved interfaces back, deletes the host-side
// links and leaves the zone (its bridge goes with its last container).
// Errors are reported, not returned: the rest must still be undone.
func (cn *containerNet) disconnect(out reporter) {
	if cn == nil {
		return
	}
	var errs []error
	// The table and the forwarding go while the links are deleted: each
	// side waits on the kernel's RCU grace periods (a link's deletion,
	// an nftables socket's close), so in parallel the end costs the
	// longer of the two instead of their sum. An address on a link
	// deleted meanwhile goes with it.
	hostDone := make(chan error, 1)
	go func() {
		if cn.host == nil {
			hostDone <- nil
			return
		}
		hostDone <- cn.host.Teardown()
	}()
	if cn.links != nil {
		for _, m := range cn.moved {
			errs = append(errs, cn.links.MoveOut(m))
		}
		// The veth's host side goes with its namespace, but only some
		// time after: deleted now, its bridge can go with it.
		for _, name := range cn.made {
			errs = append(errs, cn.links.Delete(name))
		}
		cn.links.Close()
	}
	errs = append(errs, <-hostDone)
	if cn.zone != nil {
		errs = append(errs, network.LeaveZone(cn.hostNS, *cn.zone))
	}
	for _, fd := range []int{cn.hostNS, cn.containerNS} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if err := errors.Join(errs...); err != nil {
		out.Warn(err.Error())
	}
}

// joinNetNS moves the staging thread into --network-namespace-path's
// namespace, so the child is born in it: joined later, from inside its
// own user namespace, it would lack the right over a namespace the host
// owns.
func joinNetNS(path string) error {
	if path == "" {
		return nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--network-namespace-path=%s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("--network-namespace-path=%s: join it: %w", path, err)
	}
	return nil
}

// showResolvConf shows text as the container's /etc/resolv.conf, in the
// child: over the tree's file, from a tmpfs, where it is a file (the
// tree is not written); written in its place where the tree has none or
// a symlink (to a resolver's file that is not running inside), as
// systemd-nspawn's copy modes write it.
func showResolvConf(text string) error {
	if text == "" {
		return nil
	}
	const path = "/etc/resolv.conf"
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		return mounts.BindContents(map[string]string{path: text}, 0o644)
	}
	os.Remove(path)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
