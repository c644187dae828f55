package nspawn

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/nethost"
	"github.com/nspawn/nspawn/network"
)

// NetworkPlan is the container's network: whose namespace it runs in,
// the links it gets, who addresses them and which host ports lead to it.
type NetworkPlan struct {
	// Private: a network namespace of its own, with lo and Links.
	Private bool
	// JoinPath is --network-namespace-path: the namespace it runs in,
	// made by someone else and left as it is.
	JoinPath string
	// Links are made (or moved) on the host and given to the container,
	// in this order.
	Links []LinkPlan
	// Configure: nspawn gives the links addresses, routes and NAT itself
	// (no systemd-networkd will).
	Configure bool
	// Ports are forwarded from the host to the container's address.
	Ports []nethost.Port
	// ResolvConf: the container is shown a resolv.conf naming the servers
	// nspawn's configuration reaches (--resolv-conf=auto), made from the
	// host's, HostResolvConf.
	ResolvConf     bool
	HostResolvConf string
}

// LinkKind is how a link reaches the container.
type LinkKind int

const (
	// LinkVeth is the -n, --network-bridge or --network-zone pair: Host
	// on the host (a port of Bridge, if any), host0 inside.
	LinkVeth LinkKind = iota
	// LinkVethExtra is a --network-veth-extra pair.
	LinkVethExtra
	// LinkMacvlan and LinkIpvlan are made on Host (the parent) and live
	// inside as Container.
	LinkMacvlan
	LinkIpvlan
	// LinkMoved is the host's interface Host, moved inside as Container
	// and back when the container ends.
	LinkMoved
)

// LinkPlan is one link of the container.
type LinkPlan struct {
	Kind      LinkKind
	Host      string // the host side, the parent, or the moved interface
	Container string // its name inside
	Bridge    string // the bridge the host side joins (a zone's vz-NAME)
	Zone      bool   // Bridge is a zone's: made with its first container, gone with its last
}

// planNetwork decides the container's network from the options and what
// the host has: every mistake here, before anything exists.
func (p *Plan) planNetwork(o *Options, host *Facts) error {
	n := &o.NetworkOptions
	if err := checkNetworkCombinations(o); err != nil {
		return err
	}
	p.Network.Private = (privateNetwork(o) || n.links()) && n.NetworkNSPath == ""
	p.PrivateNetwork = p.Network.Private || n.NetworkNSPath != ""
	if n.NetworkNSPath != "" {
		// Joined by the staging thread before the clone, so the child
		// is born in it (nspawn.go's stageTree).
		if err := host.netnsErr(); err != nil {
			return fmt.Errorf("--network-namespace-path=%s: %v", n.NetworkNSPath, err)
		}
		p.Network.JoinPath = n.NetworkNSPath
		return nil
	}
	if p.Network.Private {
		p.Cloneflags |= unix.CLONE_NEWNET
	}
	links, err := planLinks(n, p.Machine, host)
	if err != nil {
		return err
	}
	p.Network.Links = links
	for _, v := range n.Ports {
		if p.Network.Ports, err = nethost.AddPort(p.Network.Ports, v); err != nil {
			return err
		}
	}
	if p.Network.Configure, err = networkConfigure(n.NetworkConfigure, host.Net.Networkd); err != nil {
		return err
	}
	veth := slices.IndexFunc(links, func(l LinkPlan) bool { return l.Kind == LinkVeth })
	switch {
	case len(n.Ports) == 0:
	case veth < 0:
		return fmt.Errorf("--port=%s: nothing to forward it to; give the container a veth with --network-veth (-n) or --network-zone=", n.Ports[0])
	case links[veth].Bridge != "" && !links[veth].Zone:
		return fmt.Errorf("--port=%s: with --network-bridge=%s the bridge's network addresses the container, so nspawn has no address to forward to; use -n or --network-zone=", n.Ports[0], links[veth].Bridge)
	case !p.Network.Configure:
		return fmt.Errorf("--port=%s: systemd-networkd addresses the container (--network-configure=%s), so nspawn has no address to forward to at start; use --network-configure=nspawn", n.Ports[0], n.NetworkConfigure)
	}
	// nspawn addresses the veth or the zone's bridge; a user's bridge
	// belongs to its network.
	if p.Network.Configure && veth >= 0 && (links[veth].Bridge == "" || links[veth].Zone) && o.ResolvConf == "auto" {
		p.Network.ResolvConf = true
		p.Network.HostResolvConf = string(host.file(resolvSources["host"]).Content)
	}
	return nil
}

// networkConfigure decides --network-configure: whether nspawn addresses
// the links itself.
func networkConfigure(mode string, networkd bool) (bool, error) {
	switch mode {
	case "auto":
		return !networkd, nil
	case "nspawn":
		return true, nil
	case "networkd":
		return false, nil
	}
	return false, fmt.Errorf("--network-configure=%s: not one of %s", mode, strings.Join(networkConfigureModes, ", "))
}

// checkNetworkCombinations refuses what systemd-nspawn refuses together,
// and --share-network (ours) with anything that needs a namespace of the
// container's own.
func checkNetworkCombinations(o *Options) error {
	n := &o.NetworkOptions
	wants := n.firstLinkOption()
	if wants == "" && len(n.Ports) > 0 {
		wants = "--port=" + n.Ports[0]
	}
	if wants == "" && n.NetworkNSPath != "" {
		wants = "--network-namespace-path=" + n.NetworkNSPath
	}
	if o.ShareNetwork && wants != "" {
		return fmt.Errorf("--share-network and %s contradict each other: the host's network is not the container's to change; drop one", wants)
	}
	if n.NetworkNSPath != "" && (n.links() || o.PrivateNetwork) {
		other := n.firstLinkOption()
		if other == "" {
			other = "--private-network"
		}
		return fmt.Errorf("--network-namespace-path=%s cannot be combined with %s: the container runs in that namespace as it is; drop one", n.NetworkNSPath, other)
	}
	if n.NetworkBridge != "" && n.NetworkZone != "" {
		return fmt.Errorf("--network-bridge=%s and --network-zone=%s may not be combined: a zone is a bridge of its own; pick one", n.NetworkBridge, n.NetworkZone)
	}
	return nil
}

// firstLinkOption names the first option that asks for a link, or "".
func (n *NetworkOptions) firstLinkOption() string {
	switch {
	case n.NetworkVeth:
		return "--network-veth"
	case n.NetworkBridge != "":
		return "--network-bridge=" + n.NetworkBridge
	case n.NetworkZone != "":
		return "--network-zone=" + n.NetworkZone
	case len(n.NetworkVethExtra) > 0:
		return "--network-veth-extra=" + n.NetworkVethExtra[0]
	case len(n.NetworkMacvlan) > 0:
		return "--network-macvlan=" + n.NetworkMacvlan[0]
	case len(n.NetworkIpvlan) > 0:
		return "--network-ipvlan=" + n.NetworkIpvlan[0]
	case len(n.NetworkInterface) > 0:
		return "--network-interface=" + n.NetworkInterface[0]
	}
	return ""
}

// planLinks lists the container's links in systemd-nspawn's order: the
// veth, the extra veths, the macvlans, the ipvlans, the moved interfaces,
// named as systemd-nspawn names them (network.Shorten past 15 bytes).
func planLinks(n *NetworkOptions, machine string, host *Facts) ([]LinkPlan, error) {
	var links []LinkPlan
	if n.NetworkVeth || n.NetworkBridge != "" || n.NetworkZone != "" {
		l := LinkPlan{Kind: LinkVeth, Container: network.ContainerVethName}
		l.Host, _ = network.HostVethName(machine, n.NetworkBridge != "" || n.NetworkZone != "")
		switch {
		case n.NetworkBridge != "":
			if _, err := network.ParseIfName("network-bridge", n.NetworkBridge); err != nil {
				return nil, err
			}
			if err := host.bridgeErr(n.NetworkBridge); err != nil {
				return nil, fmt.Errorf("--network-bridge=%s: %v", n.NetworkBridge, err)
			}
			l.Bridge = n.NetworkBridge
		case n.NetworkZone != "":
			bridge, err := network.ZoneBridgeName(n.NetworkZone)
			if err != nil {
				return nil, err
			}
			l.Bridge, l.Zone = bridge, true
		}
		links = append(links, l)
	}
	for _, v := range n.NetworkVethExtra {
		pair, err := network.ParsePair("network-veth-extra", v)
		if err != nil {
			return nil, err
		}
		links = append(links, LinkPlan{Kind: LinkVethExtra, Host: pair.Host, Container: pair.Container})
	}
	for _, kind := range []struct {
		flag   string
		kind   LinkKind
		name   func(string) string
		values []string
	}{
		{"network-macvlan", LinkMacvlan, network.MacvlanName, n.NetworkMacvlan},
		{"network-ipvlan", LinkIpvlan, network.IpvlanName, n.NetworkIpvlan},
	} {
		for _, v := range kind.values {
			parent, err := network.ParseIfName(kind.flag, v)
			if err != nil {
				return nil, err
			}
			if err := host.linkErr(parent); err != nil {
				return nil, fmt.Errorf("--%s=%s: %v", kind.flag, v, err)
			}
			links = append(links, LinkPlan{Kind: kind.kind, Host: parent, Container: kind.name(parent)})
		}
	}
	for _, v := range n.NetworkInterface {
		pair, err := network.ParsePair("network-interface", v)
		if err != nil {
			return nil, err
		}
		if err := host.linkErr(pair.Host); err != nil {
			return nil, fmt.Errorf("--network-interface=%s: %v", v, err)
		}
		links = append(links, LinkPlan{Kind: LinkMoved, Host: pair.Host, Container: pair.Container})
	}
	return links, checkLinkNames(links)
}

// checkLinkNames refuses two links of one name on either side.
func checkLinkNames(links []LinkPlan) error {
	inside := map[string]bool{}
	hostSide := map[string]bool{}
	for _, l := range links {
		if inside[l.Container] {
			return fmt.Errorf("two network links would be %s inside the container; name one otherwise (IF:NAME)", l.Container)
		}
		inside[l.Container] = true
		if l.Kind == LinkMacvlan || l.Kind == LinkIpvlan {
			continue // parents may be shared
		}
		if hostSide[l.Host] {
			return fmt.Errorf("two network links would be %s on the host; name one otherwise", l.Host)
		}
		hostSide[l.Host] = true
	}
	return nil
}
