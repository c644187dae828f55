package cgroup

// MirrorLimits writes the files marked Mirror (File.Mirror) on the payload
// cgroup too. The limits hold on the scope, but the container's cgroup
// namespace is rooted at the payload, and there, without this, it reads
// cpu.max "max 100000" and memory.max "max" under any limit: runtimes that
// size themselves from those files (Go's GOMAXPROCS, the JVM) would not
// see theirs. A file the payload lacks (a controller not delegated to it)
// is skipped: writing on the scope already warned of any the kernel
// lacks.
//
// Call it once the payload's controllers are enabled: after Create on a
// scope nspawn made, after JoinPayload in one systemd made.
func (g *Group) MirrorLimits(files []File) error {
	dir := g.Dir() + "/" + PayloadDir
	for _, f := range files {
		if !f.Mirror {
			continue
		}
		if _, err := write(dir, f); err != nil {
			return err
		}
	}
	return nil
}
