package nspawn

import (
	"github.com/spf13/pflag"

	"github.com/nspawn/nspawn/security"
)

// ExecOptions are the options of the payload's execution environment
// beyond who runs it: resource limits, scheduling, personality, the
// filter's extras (systemd.nspawn(5)'s [Exec] section).
type ExecOptions struct {
	Rlimits                 []string
	OOMScoreAdjust          string
	CPUAffinity             string
	Personality             string
	SuppressSync            string
	RestrictAddressFamilies []string
}

// declareExecOptions declares ExecOptions' flags, with their argument
// names for --help.
func declareExecOptions(fs *pflag.FlagSet, o *ExecOptions) {
	fs.StringArrayVar(&o.Rlimits, "rlimit", nil, "Set a resource limit for the payload (RLIMIT_NOFILE=8192:16384, CPU=5min, AS=1G, ... or infinity)")
	fs.StringVar(&o.OOMScoreAdjust, "oom-score-adjust", "", "Adjust the payload's OOM score (-1000..1000)")
	fs.StringVar(&o.CPUAffinity, "cpu-affinity", "", "Run the payload only on these CPUs (0-1,3)")
	fs.StringVar(&o.Personality, "personality", "", "The architecture uname(2) reports in the container: x86 or x86-64")
	fs.StringVar(&o.SuppressSync, "suppress-sync", "", "Make sync(), fsync() and the like no-ops and refuse O_SYNC opens, for speed over durability")
	fs.StringArrayVar(&o.RestrictAddressFamilies, "restrict-address-families", nil, "Allow socket(2) only these address families (AF_UNIX AF_INET ...), or deny them with a leading ~; none allows none, empty lifts the limit")
	argNames(fs, map[string]string{
		"rlimit":                    "NAME=LIMIT",
		"oom-score-adjust":          "VALUE",
		"cpu-affinity":              "CPUS",
		"personality":               "ARCH",
		"suppress-sync":             "BOOL",
		"restrict-address-families": "LIST",
	})
	fs.SetAnnotation("personality", "values", personalityNames())
	fs.SetAnnotation("rlimit", "values", rlimitNames())
	fs.SetAnnotation("restrict-address-families", "values", security.AddressFamilyNames())
}
