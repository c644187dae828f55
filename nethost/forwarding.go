package nethost

import (
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// Forwarding. IPv4 forwarding is decided by the input link's own
// net.ipv4.conf.LINK.forwarding, so nspawn never touches net.ipv4.ip_forward
// (which sets every link): the host side's link gets forwarding=1 and
// route_localnet=1 (settings that die with the link), and every other link
// with an IPv4 address gets forwarding=1 where it was 0, since replies to
// the masquerade and --port traffic from other hosts enter there. What was
// changed is written on the link itself, in its alias, before the change:
// "nspawn:forwarding=0;" ahead of the alias it had. The last container
// (no nspawn table left) puts those back: forwarding 0 and the old alias.
// Start and end hold the claim "forwarding" so that one container ending
// never restores what another is starting to need.
const forwardingMark = "nspawn:forwarding=0;"

// forwardingLock is the claim held around table changes and forwarding.
func forwardingLock(nsfd int) (*claim, error) { return waitClaim(nsfd, "forwarding") }

// enableForwarding turns forwarding on for every IPv4 link of the host
// that has it off, marking each one first. Caller holds forwardingLock.
func enableForwarding(nl *rtnetlink.Conn, nsfd int, hostLink string) error {
	links, err := nl.Link.List()
	if err != nil {
		return fmt.Errorf("list host links: %w", err)
	}
	addrs, err := nl.Address.List()
	if err != nil {
		return fmt.Errorf("list host addresses: %w", err)
	}
	hasIPv4 := map[uint32]bool{}
	for _, a := range addrs {
		if a.Family == unix.AF_INET {
			hasIPv4[a.Index] = true
		}
	}
	for _, l := range links {
		name := l.Attributes.Name
		if name == "lo" || name == hostLink || !hasIPv4[l.Index] {
			continue
		}
		key := "net/ipv4/conf/" + name + "/forwarding"
		if v, err := readSysctl(nsfd, key); err != nil || v != "0" {
			continue
		}
		alias := ""
		if l.Attributes.Alias != nil {
			alias = *l.Attributes.Alias
		}
		if !strings.HasPrefix(alias, forwardingMark) {
			marked := forwardingMark + alias
			if err := nl.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Alias: &marked}}); err != nil {
				return fmt.Errorf("mark %s's alias before enabling forwarding: %w", name, err)
			}
		}
		if err := writeSysctl(nsfd, key, "1"); err != nil {
			return fmt.Errorf("enable forwarding on %s: %w", name, err)
		}
	}
	return nil
}

// restoreForwarding puts back forwarding=0 and the old alias on every
// marked link, when no nspawn table is left. Caller holds forwardingLock.
func restoreForwarding(nl *rtnetlink.Conn, nft *nftables.Conn, nsfd int) error {
	if names, err := nspawnTables(nft); err != nil || len(names) > 0 {
		return err
	}
	links, err := nl.Link.List()
	if err != nil {
		return fmt.Errorf("list host links: %w", err)
	}
	for _, l := range links {
		if l.Attributes.Alias == nil || !strings.HasPrefix(*l.Attributes.Alias, forwardingMark) {
			continue
		}
		name := l.Attributes.Name
		if err := writeSysctl(nsfd, "net/ipv4/conf/"+name+"/forwarding", "0"); err != nil {
			return fmt.Errorf("restore forwarding=0 on %s: %w", name, err)
		}
		old := strings.TrimPrefix(*l.Attributes.Alias, forwardingMark)
		if err := nl.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Alias: &old}}); err != nil {
			return fmt.Errorf("restore %s's alias: %w", name, err)
		}
	}
	return nil
}
