package nethost

import (
	"fmt"
	"slices"
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
// the masquerade and --port traffic from other hosts enter there. IPv6 is
// the same with net.ipv6.conf.LINK.force_forwarding (Linux 6.17), on links
// with a global IPv6 address; the host-wide net.ipv6.conf.all.forwarding is
// never written (it makes every link a router and stops the host taking
// router advertisements), and force_forwarding leaves a link's own
// forwarding, and so its accept_ra, as it was. What was changed is written
// on the link itself, in its alias, before the change: one mark per
// setting ("nspawn:forwarding=0;", "nspawn:force_forwarding=0;") ahead of
// the alias it had. The last container (no nspawn table left) puts those
// back: the settings to 0 and the old alias. Start and end hold the claim
// "forwarding" so that one container ending never restores what another is
// starting to need.
const forwardingMark = "nspawn:forwarding=0;"

// forwardingSettings are the settings enableForwarding turns on, with the
// mark that says so on a link's alias.
var forwardingSettings = [...]struct {
	family uint8
	key    string // under /proc/sys, with LINK for the link's name
	mark   string
}{
	{unix.AF_INET, "net/ipv4/conf/LINK/forwarding", forwardingMark},
	{unix.AF_INET6, "net/ipv6/conf/LINK/force_forwarding", "nspawn:force_forwarding=0;"},
}

// forwardingLock is the claim held around table changes and forwarding.
func forwardingLock(nsfd int) (*claim, error) { return waitClaim(nsfd, "forwarding") }

// splitMarks parses an alias into the marks nspawn put ahead of it and the
// alias the link had.
func splitMarks(alias string) (marks []string, old string) {
	for {
		found := false
		for _, f := range forwardingSettings {
			if rest, ok := strings.CutPrefix(alias, f.mark); ok {
				marks, alias, found = append(marks, f.mark), rest, true
			}
		}
		if !found {
			return marks, alias
		}
	}
}

// enableForwarding turns forwarding on for every link of the host that has
// an address of the family (IPv4; IPv6 too where ipv6) and has it off,
// marking each one first. Caller holds forwardingLock.
func enableForwarding(nl *rtnetlink.Conn, nsfd int, hostLink string, ipv6 bool) error {
	links, err := nl.Link.List()
	if err != nil {
		return fmt.Errorf("list host links: %w", err)
	}
	addrs, err := nl.Address.List()
	if err != nil {
		return fmt.Errorf("list host addresses: %w", err)
	}
	has := map[uint8]map[uint32]bool{unix.AF_INET: {}, unix.AF_INET6: {}}
	for _, a := range addrs {
		if a.Family == unix.AF_INET || a.Family == unix.AF_INET6 && a.Scope == unix.RT_SCOPE_UNIVERSE {
			has[a.Family][a.Index] = true
		}
	}
	for _, l := range links {
		name := l.Attributes.Name
		if name == "lo" || name == hostLink {
			continue
		}
		alias := ""
		if l.Attributes.Alias != nil {
			alias = *l.Attributes.Alias
		}
		for _, f := range forwardingSettings {
			if !has[f.family][l.Index] || f.family == unix.AF_INET6 && !ipv6 {
				continue
			}
			key := strings.Replace(f.key, "LINK", name, 1)
			if v, err := readSysctl(nsfd, key); err != nil || v != "0" {
				continue
			}
			if marks, _ := splitMarks(alias); !slices.Contains(marks, f.mark) {
				alias = f.mark + alias
				if err := nl.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Alias: &alias}}); err != nil {
					return fmt.Errorf("mark %s's alias before enabling forwarding: %w", name, err)
				}
			}
			if err := writeSysctl(nsfd, key, "1"); err != nil {
				return fmt.Errorf("enable forwarding on %s (%s): %w", name, key, err)
			}
		}
	}
	return nil
}

// restoreForwarding puts back each marked setting and the old alias on
// every marked link, when no nspawn table is left. Caller holds
// forwardingLock.
func restoreForwarding(nl *rtnetlink.Conn, nft *nftables.Conn, nsfd int) error {
	if names, err := nspawnTables(nft); err != nil || len(names) > 0 {
		return err
	}
	links, err := nl.Link.List()
	if err != nil {
		return fmt.Errorf("list host links: %w", err)
	}
	for _, l := range links {
		if l.Attributes.Alias == nil {
			continue
		}
		marks, old := splitMarks(*l.Attributes.Alias)
		if len(marks) == 0 {
			continue
		}
		name := l.Attributes.Name
		for _, f := range forwardingSettings {
			if !slices.Contains(marks, f.mark) {
				continue
			}
			key := strings.Replace(f.key, "LINK", name, 1)
			if err := writeSysctl(nsfd, key, "0"); err != nil {
				return fmt.Errorf("restore %s=0: %w", key, err)
			}
		}
		if err := nl.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Alias: &old}}); err != nil {
			return fmt.Errorf("restore %s's alias: %w", name, err)
		}
	}
	return nil
}
