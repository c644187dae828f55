package nspawn

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/nspawn/nspawn/mounts"
)

// pivotRoot is --pivot-root=PATH[:OLD]: the container's root is PATH
// inside the tree (a tree that holds an OS tree, as an image's /sysroot
// or an A/B layout does), and the tree itself appears at OLD inside it,
// or nowhere, as systemd-nspawn's setup_pivot_root() leaves them.
type pivotRoot struct {
	newRoot, oldRoot string
}

// parsePivotRoot reads --pivot-root's value: absolute paths, as
// systemd-nspawn's pivot_root_parse() wants them.
func parsePivotRoot(spec string) (pivotRoot, error) {
	newRoot, oldRoot, hasOld := strings.Cut(spec, ":")
	if !path.IsAbs(newRoot) || hasOld && !path.IsAbs(oldRoot) {
		return pivotRoot{}, fmt.Errorf("--pivot-root=%s: both paths must be absolute paths inside the tree (PATH[:OLD])", spec)
	}
	pr := pivotRoot{newRoot: path.Clean(newRoot)}
	if hasOld {
		pr.oldRoot = path.Clean(oldRoot)
		if pr.oldRoot == "/" {
			return pivotRoot{}, fmt.Errorf("--pivot-root=%s: the old root cannot go on the new root's /; give a directory such as /oldroot", spec)
		}
	}
	return pr, nil
}

// planPivotRoot makes the plan's root the tree's PATH, which must be a
// directory; the tree's own directory, tree, is where OLD's bind comes
// from.
func (p *Plan) planPivotRoot(spec, tree string) error {
	pr, err := parsePivotRoot(spec)
	if err != nil {
		return err
	}
	root, err := mounts.InTree(tree, pr.newRoot)
	if err != nil {
		return fmt.Errorf("--pivot-root=%s: %v", spec, err)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return fmt.Errorf("--pivot-root=%s: %s is no directory in the tree %s; give the path of the root inside it", spec, pr.newRoot, tree)
	}
	p.Root = root
	if pr.oldRoot != "" {
		// Not recursive: the tree's own mounts would include the new root
		// and, by propagation, every mount made in it after.
		p.oldRoot = &mounts.Step{Kind: mounts.KindBind, Source: tree, Target: pr.oldRoot}
	}
	return nil
}
