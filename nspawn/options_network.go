package nspawn

import (
	"github.com/spf13/pflag"
)

// NetworkOptions are the options of the container's network beyond
// private-or-shared: the links it gets, the namespace it joins, the
// ports forwarded to it (systemd.nspawn(5)'s [Network] section).
type NetworkOptions struct {
	NetworkVeth      bool
	NetworkVethExtra []string
	NetworkBridge    string
	NetworkZone      string
	NetworkMacvlan   []string
	NetworkIpvlan    []string
	NetworkInterface []string
	NetworkNSPath    string
	Ports            []string
	// NetworkConfigure is ours: who gives the links addresses (auto:
	// nspawn, unless systemd-networkd runs on the host and will).
	NetworkConfigure string
}

// declareNetworkOptions declares NetworkOptions' flags, with their
// argument names for --help.
func declareNetworkOptions(fs *pflag.FlagSet, o *NetworkOptions) {
	fs.BoolVarP(&o.NetworkVeth, "network-veth", "n", false, "Connect the container to the host by a veth pair: ve-NAME on the host, host0 inside")
	fs.StringArrayVar(&o.NetworkVethExtra, "network-veth-extra", nil, "Another veth pair: HOSTIF on the host, CONTAINERIF (default HOSTIF) inside")
	fs.StringVar(&o.NetworkBridge, "network-bridge", "", "A veth pair whose host side (vb-NAME) is a port of this bridge")
	fs.StringVar(&o.NetworkZone, "network-zone", "", "A veth pair whose host side is a port of the zone's bridge vz-ZONE, made with its first container and gone with its last")
	fs.StringArrayVar(&o.NetworkMacvlan, "network-macvlan", nil, "A macvlan on this host interface, mv-IF inside")
	fs.StringArrayVar(&o.NetworkIpvlan, "network-ipvlan", nil, "An ipvlan on this host interface, iv-IF inside")
	fs.StringArrayVar(&o.NetworkInterface, "network-interface", nil, "Move this host interface into the container (renamed NAME), and back when it ends")
	fs.StringVar(&o.NetworkNSPath, "network-namespace-path", "", "Run in this network namespace (a file under /proc/PID/ns or a bind mount of one)")
	fs.StringArrayVarP(&o.Ports, "port", "p", nil, "Forward a host port to the container's: tcp (the default) or udp, HOSTPORT, CONTAINERPORT (default HOSTPORT)")
	fs.StringVar(&o.NetworkConfigure, "network-configure", "auto", "Who gives the links addresses, routes and NAT: nspawn, networkd (left to systemd-networkd, as systemd-nspawn does), or auto (nspawn unless networkd runs on the host)")
	fs.SetAnnotation("network-configure", valuesAnnotation, networkConfigureModes)
	argNames(fs, map[string]string{
		"network-veth-extra":     "HOSTIF[:CONTAINERIF]",
		"network-bridge":         "BRIDGE",
		"network-zone":           "NAME",
		"network-macvlan":        "IF",
		"network-ipvlan":         "IF",
		"network-interface":      "IF[:NAME]",
		"network-namespace-path": "PATH",
		"port":                   "[PROTO:]HOSTPORT[:CONTAINERPORT]",
		"network-configure":      "WHO",
	})
}

// networkConfigureModes are --network-configure's values.
var networkConfigureModes = []string{"auto", "nspawn", "networkd"}

// links reports whether any option asks for a network link of the
// container's own, each of which implies a private network.
func (o *NetworkOptions) links() bool {
	return o.NetworkVeth || len(o.NetworkVethExtra) > 0 || o.NetworkBridge != "" || o.NetworkZone != "" ||
		len(o.NetworkMacvlan) > 0 || len(o.NetworkIpvlan) > 0 || len(o.NetworkInterface) > 0
}
