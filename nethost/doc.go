// Package nethost configures the host's side of a container's private
// network where no systemd-networkd does it: a free subnet from a private
// pool with the host side's and the container's addresses and the
// container's default route, outbound NAT and --port forwarding in one
// nftables table per container, the forwarding sysctls, and a resolv.conf
// that reaches the host's resolvers. The links themselves are made by
// package network; this package takes their names.
//
// Everything made on the host is recorded first in the undo log (Config's
// Recorder) and has an exported, idempotent handler (UndoTable,
// UndoForwarding, UndoBridgeAddress), so a SIGKILLed nspawn leaves nothing.
package nethost
