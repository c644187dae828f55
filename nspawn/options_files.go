package nspawn

import "github.com/spf13/pflag"

// FilesOptions are the options of the container's files and devices
// beyond binds and tmpfs: the journal, credentials, the root inside the
// tree (systemd.nspawn(5)'s [Files] section).
type FilesOptions struct{}

// declareFilesOptions declares FilesOptions' flags, with their argument
// names for --help.
func declareFilesOptions(fs *pflag.FlagSet, o *FilesOptions) {}
