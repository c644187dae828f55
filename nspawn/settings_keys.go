package nspawn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nspawn/nspawn/security"
	"github.com/nspawn/nspawn/userns"
)

// settingGroup is one of systemd-nspawn's settings mask bits (SETTING_* in
// nspawn-settings.h): an option given on the command line takes its whole
// group from the command line, and the file's keys of that group are
// dropped (merge_settings), unless --settings=override.
type settingGroup string

const (
	groupStartMode       settingGroup = "start-mode" // Boot=, ProcessTwo=, Parameters=; -b, -a, the command
	groupEphemeral       settingGroup = "ephemeral"
	groupEnvironment     settingGroup = "environment"
	groupUser            settingGroup = "user"
	groupCapability      settingGroup = "capability"
	groupKillSignal      settingGroup = "kill-signal"
	groupPersonality     settingGroup = "personality"
	groupMachineID       settingGroup = "machine-id"
	groupWorkingDir      settingGroup = "working-directory"
	groupPivotRoot       settingGroup = "pivot-root"
	groupUserNS          settingGroup = "userns"
	groupNotifyReady     settingGroup = "notify-ready"
	groupSyscallFilter   settingGroup = "syscall-filter"
	groupHostname        settingGroup = "hostname"
	groupNoNewPrivileges settingGroup = "no-new-privileges"
	groupOOMScoreAdjust  settingGroup = "oom-score-adjust"
	groupCPUAffinity     settingGroup = "cpu-affinity"
	groupResolvConf      settingGroup = "resolv-conf"
	groupLinkJournal     settingGroup = "link-journal"
	groupTimezone        settingGroup = "timezone"
	groupSuppressSync    settingGroup = "suppress-sync"
	groupReadOnly        settingGroup = "read-only"
	groupVolatile        settingGroup = "volatile"
	groupCustomMounts    settingGroup = "custom-mounts"
	groupBindUser        settingGroup = "bind-user"
	groupNetwork         settingGroup = "network"
	groupExposePorts     settingGroup = "expose-ports"
)

// flagGroups is the settings group each command-line option belongs to,
// as parse_argv sets arg_settings_mask. An option not listed here has no
// key in a .nspawn file and always comes from the command line. --rlimit
// is a group per limit (SETTING_RLIMIT_FIRST << resource): see groupOf.
var flagGroups = map[string]settingGroup{
	"boot": groupStartMode, "as-pid2": groupStartMode,
	"ephemeral":  groupEphemeral,
	"setenv":     groupEnvironment,
	"user":       groupUser,
	"capability": groupCapability, "drop-capability": groupCapability, "ambient-capability": groupCapability,
	"kill-signal":   groupKillSignal,
	"personality":   groupPersonality,
	"uuid":          groupMachineID,
	"chdir":         groupWorkingDir,
	"pivot-root":    groupPivotRoot,
	"private-users": groupUserNS, "private-users-pick": groupUserNS,
	"private-users-ownership": groupUserNS, "private-users-chown": groupUserNS,
	"notify-ready":       groupNotifyReady,
	"system-call-filter": groupSyscallFilter,
	"hostname":           groupHostname,
	"no-new-privileges":  groupNoNewPrivileges,
	"oom-score-adjust":   groupOOMScoreAdjust,
	"cpu-affinity":       groupCPUAffinity,
	"resolv-conf":        groupResolvConf,
	"link-journal":       groupLinkJournal, "link-journal-try-guest": groupLinkJournal,
	"timezone":      groupTimezone,
	"suppress-sync": groupSuppressSync,
	"read-only":     groupReadOnly,
	"volatile":      groupVolatile,
	"bind":          groupCustomMounts, "bind-ro": groupCustomMounts, "tmpfs": groupCustomMounts,
	"overlay": groupCustomMounts, "overlay-ro": groupCustomMounts, "inaccessible": groupCustomMounts,
	"bind-user":    groupBindUser,
	"network-veth": groupNetwork, "network-veth-extra": groupNetwork, "network-bridge": groupNetwork,
	"network-zone": groupNetwork, "network-macvlan": groupNetwork, "network-ipvlan": groupNetwork,
	"network-interface": groupNetwork, "network-namespace-path": groupNetwork,
	"private-network": groupNetwork, "share-network": groupNetwork,
	"port": groupExposePorts,
}

// groupOf is the settings group of an option given value, "" for none.
func groupOf(flag, value string) settingGroup {
	if flag == "rlimit" {
		name, _, _ := strings.Cut(strings.ToUpper(value), "=")
		return settingGroup("rlimit-" + strings.TrimPrefix(name, "RLIMIT_"))
	}
	return flagGroups[flag]
}

// settingKey is one key of a .nspawn file: the option it stands for, so a
// key and its flag share one parser (the flag's own Set) and cannot drift
// apart.
type settingKey struct {
	flag string
	// split: the value is a list of words (quotes as systemd's
	// extract_first_word), each given to the flag on its own.
	split bool
	// set turns the value into the (flag, value) pairs to apply, where
	// the key is not simply the flag (Boot=, Private=, Limit*=); nil for
	// flag=value.
	set func(value string) ([][2]string, error)
	// check refuses a malformed value while the file is read, so it is
	// warned about and ignored, as systemd-nspawn's config parsers do;
	// the flag's own Set checks the rest, planning what only it can.
	check func(value string) error
	// privileged: ignored from an untrusted file (merge_settings's "file
	// %s is not trusted" list); privilegedIf decides per value.
	privileged   bool
	privilegedIf func(value string) bool
}

// settingKeys are systemd-nspawn 252's keys (nspawn-gperf.gperf), by
// "Section.Key".
func settingKeys() map[string]settingKey {
	keys := map[string]settingKey{
		"Exec.Boot":              {flag: "boot", set: startMode("boot", "as-pid2"), check: checkBool},
		"Exec.ProcessTwo":        {flag: "as-pid2", set: startMode("as-pid2", "boot"), check: checkBool},
		"Exec.Parameters":        {flag: "", split: true},
		"Exec.Ephemeral":         {flag: "ephemeral", check: checkBool},
		"Exec.Environment":       {flag: "setenv", split: true, check: checkEnv},
		"Exec.User":              {flag: "user", check: checkNotEmpty},
		"Exec.Capability":        {flag: "capability", set: capabilityList("capability"), check: checkCaps, privileged: true},
		"Exec.AmbientCapability": {flag: "ambient-capability", set: capabilityList("ambient-capability"), check: checkCaps, privileged: true},
		"Exec.DropCapability":    {flag: "drop-capability", set: capabilityList("drop-capability"), check: checkCaps},
		"Exec.KillSignal":        {flag: "kill-signal", check: func(v string) error { _, err := parseSignal(v); return err }},
		"Exec.Personality":       {flag: "personality", check: checkPersonality},
		"Exec.MachineID":         {flag: "uuid", privileged: true},
		"Exec.WorkingDirectory":  {flag: "chdir", check: checkAbsolute},
		"Exec.PivotRoot":         {flag: "pivot-root"},
		"Exec.PrivateUsers":      {flag: "private-users", privileged: true},
		"Exec.NotifyReady":       {flag: "notify-ready", check: checkBool},
		"Exec.SystemCallFilter":  {flag: "system-call-filter", check: checkSyscalls, privilegedIf: allowsSyscalls},
		"Exec.Hostname":          {flag: "hostname", check: checkHostname},
		"Exec.NoNewPrivileges":   {flag: "no-new-privileges", check: checkBool},
		"Exec.OOMScoreAdjust":    {flag: "oom-score-adjust", privileged: true},
		"Exec.CPUAffinity":       {flag: "cpu-affinity", privileged: true},
		"Exec.ResolvConf":        {flag: "resolv-conf", check: func(v string) error { _, err := parseMode("ResolvConf", v, resolvModes); return err }},
		"Exec.LinkJournal":       {flag: "link-journal", check: checkLinkJournal, privileged: true},
		"Exec.Timezone":          {flag: "timezone", check: func(v string) error { _, err := parseMode("Timezone", v, timezoneModes); return err }},
		"Exec.SuppressSync":      {flag: "suppress-sync", check: checkBool},

		"Files.ReadOnly":              {flag: "read-only", check: checkBool},
		"Files.Volatile":              {flag: "volatile", check: func(v string) error { _, err := parseVolatile(v); return err }},
		"Files.Bind":                  {flag: "bind", privileged: true},
		"Files.BindReadOnly":          {flag: "bind-ro", privileged: true},
		"Files.TemporaryFileSystem":   {flag: "tmpfs", privileged: true},
		"Files.Inaccessible":          {flag: "inaccessible", privileged: true},
		"Files.Overlay":               {flag: "overlay", privileged: true},
		"Files.OverlayReadOnly":       {flag: "overlay-ro", privileged: true},
		"Files.PrivateUsersChown":     {flag: "private-users-ownership", set: userNSChown, check: checkBool, privileged: true},
		"Files.PrivateUsersOwnership": {flag: "private-users-ownership", check: func(v string) error { _, err := userns.ParseOwnership(v); return err }, privileged: true},
		"Files.BindUser":              {flag: "bind-user", split: true, privileged: true},

		"Network.Private":              {flag: "private-network", set: networkPrivate, check: checkBool, privileged: true},
		"Network.VirtualEthernet":      {flag: "network-veth", check: checkBool, privileged: true},
		"Network.VirtualEthernetExtra": {flag: "network-veth-extra", privileged: true},
		"Network.Interface":            {flag: "network-interface", split: true, privileged: true},
		"Network.MACVLAN":              {flag: "network-macvlan", split: true, privileged: true},
		"Network.IPVLAN":               {flag: "network-ipvlan", split: true, privileged: true},
		"Network.Bridge":               {flag: "network-bridge", privileged: true},
		"Network.Zone":                 {flag: "network-zone", privileged: true},
		"Network.Port":                 {flag: "port", privileged: true},
	}
	// LimitCPU= ... LimitRTTIME=: one key per resource, each --rlimit.
	for _, r := range rlimits {
		name := strings.TrimPrefix(r.name, "RLIMIT_")
		keys["Exec.Limit"+name] = settingKey{
			flag:       "rlimit",
			set:        func(v string) ([][2]string, error) { return [][2]string{{"rlimit", name + "=" + v}}, nil },
			check:      func(v string) error { return parseRlimit(name+"="+v, make([]Rlimit, len(rlimits))) },
			privileged: true,
		}
	}
	return keys
}

// startMode is Boot= and ProcessTwo=: yes picks that mode over the other,
// no leaves the other as it is (config_parse_boot, config_parse_pid2).
func startMode(flag, other string) func(string) ([][2]string, error) {
	return func(v string) ([][2]string, error) {
		if on, _ := parseBool(v); on {
			return [][2]string{{flag, "true"}, {other, "false"}}, nil
		}
		return [][2]string{{flag, "false"}}, nil
	}
}

// capabilityList: a file lists capabilities space-separated, the flag
// comma-separated.
func capabilityList(flag string) func(string) ([][2]string, error) {
	return func(v string) ([][2]string, error) {
		return [][2]string{{flag, strings.Join(strings.Fields(v), ",")}}, nil
	}
}

// userNSChown is PrivateUsersChown=: yes is chown, no is off.
func userNSChown(v string) ([][2]string, error) {
	on, _ := parseBool(v)
	return [][2]string{{"private-users-ownership", pick(on, "chown", "off")}}, nil
}

// networkPrivate is Private=: no is the host's network, as it is
// systemd-nspawn's default (ours is a private one).
func networkPrivate(v string) ([][2]string, error) {
	if on, _ := parseBool(v); on {
		return [][2]string{{"private-network", "true"}, {"share-network", "false"}}, nil
	}
	return [][2]string{{"share-network", "true"}, {"private-network", "false"}}, nil
}

func checkBool(v string) error { _, err := parseBool(v); return err }

func checkNotEmpty(v string) error {
	if v == "" {
		return errors.New("empty")
	}
	return nil
}

func checkEnv(v string) error {
	if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
		return errors.New("not NAME=VALUE")
	}
	return nil
}

func checkCaps(v string) error {
	_, err := security.ParseCapabilities(strings.Join(strings.Fields(v), ","))
	return err
}

func checkPersonality(v string) error {
	if _, ok := personalities()[v]; !ok {
		return errors.New("unknown personality")
	}
	return nil
}

func checkAbsolute(v string) error {
	if !strings.HasPrefix(v, "/") {
		return errors.New("not an absolute path")
	}
	return nil
}

func checkHostname(v string) error {
	if !validHostname(v) {
		return errors.New("not a valid hostname")
	}
	return nil
}

func checkSyscalls(v string) error {
	_, err := security.ParseSyscallFilter([]string{v})
	return err
}

// allowsSyscalls: an allow list (no leading ~) widens the filter, which an
// untrusted file may not; a deny list only narrows it.
func allowsSyscalls(v string) bool {
	return !strings.HasPrefix(strings.TrimSpace(v), "~")
}

func checkLinkJournal(v string) error {
	for _, m := range journalModes {
		if v == m {
			return nil
		}
	}
	return fmt.Errorf("not one of %s", strings.Join(journalModes, ", "))
}
