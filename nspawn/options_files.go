package nspawn

import (
	"github.com/spf13/pflag"

	"github.com/nspawn/nspawn/mounts"
)

// FilesOptions are the options of the container's files and devices
// beyond binds and tmpfs: the journal, credentials, the root inside the
// tree (systemd.nspawn(5)'s [Files] section).
type FilesOptions struct {
	Ephemeral       bool
	Volatile        string
	Overlays        []string
	OverlaysRO      []string
	LinkJournal     string
	PivotRoot       string
	SetCredentials  []string
	LoadCredentials []string
	Inaccessible    []string
	BindUsers       []string
	Template        string
}

// declareFilesOptions declares FilesOptions' flags, with their argument
// names for --help.
func declareFilesOptions(fs *pflag.FlagSet, o *FilesOptions) {
	fs.BoolVarP(&o.Ephemeral, "ephemeral", "x", false, "Run on a throw-away overlay of the tree, gone when the container ends; the tree is never written. Its upper layer is in RAM; NSPAWN_EPHEMERAL_UPPER=disk (beside the tree) or =DIR puts it on disk, for writes bigger than RAM")
	fs.StringVar(&o.Volatile, "volatile", "", "Run on a tmpfs the tree is shown through, read-only: yes (the tree's /usr alone), state (a tmpfs /var), overlay (an overlay of it all) or no")
	fs.Lookup("volatile").NoOptDefVal = "yes"
	fs.SetAnnotation("volatile", "values", mounts.VolatileModes)
	fs.StringArrayVar(&o.Overlays, "overlay", nil, "Mount an overlay at the last PATH: the lower directories, then the upper one writes go to (empty: a throw-away one)")
	fs.StringArrayVar(&o.OverlaysRO, "overlay-ro", nil, "Similar, but a read-only overlay")
	fs.StringVar(&o.LinkJournal, "link-journal", "", "Link the container's journal into the host's /var/log/journal: no, host, try-host, guest, try-guest or auto (the default)")
	fs.SetAnnotation("link-journal", "values", journalModes)
	// -j has no long name in systemd-nspawn; pflag needs one, kept out
	// of --help, which shows -j alone.
	fs.VarP(setTo{&o.LinkJournal, "try-guest"}, "link-journal-try-guest", "j", "Same as --link-journal=try-guest")
	fs.Lookup("link-journal-try-guest").NoOptDefVal = "true"
	fs.Lookup("link-journal-try-guest").Hidden = true
	fs.StringVar(&o.PivotRoot, "pivot-root", "", "The container's root is PATH inside the tree; the tree itself goes to OLD inside it, or out of sight")
	fs.StringArrayVar(&o.SetCredentials, "set-credential", nil, "Give the payload a credential with this value (C escapes allowed), in $CREDENTIALS_DIRECTORY")
	fs.StringArrayVar(&o.LoadCredentials, "load-credential", nil, "Give the payload a credential read from a host file or AF_UNIX socket, in $CREDENTIALS_DIRECTORY")
	fs.StringVar(&o.Template, "template", "", "Make the directory from this template tree first, when it does not exist (a copy, reflinked where the filesystem can)")
	fs.StringArrayVar(&o.Inaccessible, "inaccessible", nil, "Make PATH inaccessible: an empty node of its type with mode 0 over it")
	fs.StringArrayVar(&o.BindUsers, "bind-user", nil, "Bind a host user's home to /run/host/home/NAME and make the user known inside at a UID from 60514, mapped onto its own (needs -U)")
	argNames(fs, map[string]string{
		"bind-user":       "NAME",
		"inaccessible":    "PATH",
		"template":        "DIR",
		"volatile":        "MODE",
		"overlay":         "PATH[:PATH...]:PATH",
		"overlay-ro":      "PATH[:PATH...]:PATH",
		"link-journal":    "MODE",
		"pivot-root":      "PATH[:OLD]",
		"set-credential":  "ID:VALUE",
		"load-credential": "ID:PATH",
	})
}
