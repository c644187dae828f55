package nspawn

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/nspawn/nspawn/mounts"
)

// An OS tree, as systemd-nspawn tells one: it refuses to run anything in
// a directory without /usr (nothing but its own mount points would be
// there, created in a directory that may be anything), and to boot one
// without an os-release file. Both are looked for as the container will
// see them, binds applied: a tree whose /usr is bound in from elsewhere
// (--bind-ro=HOST/usr:/usr) has one.

// checkOSTree refuses a tree without /usr, before anything is made in it.
func (p *Plan) checkOSTree(dir string) error {
	if _, err := os.Lstat(p.treePath("/usr")); err != nil {
		return fmt.Errorf("--directory=%s: %s does not look like an OS tree (it has no /usr); point -D at the root of an OS tree", dir, p.Root)
	}
	return nil
}

// checkOSRelease refuses to boot a tree without an os-release file, unless
// SYSTEMD_NSPAWN_CHECK_OS_RELEASE=0 says not to look (a tree with an empty
// /etc and a /usr bound in), as systemd-nspawn allows.
func (p *Plan) checkOSRelease(env []string) error {
	if v, ok := lookupEnvOK(env, "SYSTEMD_NSPAWN_CHECK_OS_RELEASE"); ok {
		if check, err := parseBool(v); err == nil && !check {
			return nil
		}
	}
	for _, f := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if st, err := os.Stat(p.treePath(f)); err == nil && st.Mode().IsRegular() {
			return nil
		}
	}
	return fmt.Errorf("--boot: %s does not look like an OS root directory (it has no /etc/os-release or /usr/lib/os-release); add one, or set SYSTEMD_NSPAWN_CHECK_OS_RELEASE=0 to boot it anyway", p.Root)
}

// treePath is the host path of file, a path inside the container, for
// reading, with the plan's binds applied: below a bind's destination it
// is in the bind's source. A path that cannot be resolved yields one that
// does not exist.
func (p *Plan) treePath(file string) string {
	var best *mounts.Step
	for _, b := range p.Mounts.Binds() {
		if inDir(file, b.Target) && (best == nil || len(b.Target) > len(best.Target)) {
			b := b
			best = &b
		}
	}
	if best == nil {
		return inTree(p.Root, file)
	}
	rest := strings.TrimPrefix(file, best.Target)
	if best.SourceInTree {
		return inTree(p.Root, path.Join(best.Source, rest))
	}
	// Within the source, symlinks resolve as if it were the root: close
	// enough for finding a file, and never outside the source.
	return inTree(best.Source, "/"+rest)
}

// inDir tells whether file is dir or inside it.
func inDir(file, dir string) bool {
	return dir == "/" || file == dir || strings.HasPrefix(file, dir+"/")
}
