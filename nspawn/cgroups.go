package nspawn

import (
	"errors"
	"fmt"

	"github.com/nspawn/nspawn/cgroup"
)

// placement is the container's cgroup on a host without systemd, and the
// reaper that removes it should nspawn be killed before it can.
type placement struct {
	group  *cgroup.Group
	reaper *cgroup.Reaper
}

// placeInCgroup creates the container's scope. nil, nil when the host has
// no cgroup v2 hierarchy to place it in.
func placeInCgroup(plan *Plan) (*placement, error) {
	if plan.CgroupRoot == "" {
		return nil, nil
	}
	group, err := cgroup.Create(cgroup.Layout{Unified: plan.CgroupRoot}, plan.CgroupScope)
	if errors.Is(err, cgroup.ErrBusy) {
		return nil, fmt.Errorf("machine %s is already running (cgroup %s is in use); stop it first or pick another name with --machine=", plan.Machine, plan.CgroupRoot+plan.CgroupScope)
	}
	if err != nil {
		return nil, err
	}
	reaper, err := cgroup.StartReaper(group)
	if err != nil {
		group.Remove()
		return nil, err
	}
	return &placement{group: group, reaper: reaper}, nil
}

// release kills what is left in the container's cgroup and removes it.
func (p *placement) release() {
	if p == nil {
		return
	}
	p.group.Remove()
	p.reaper.Done()
}

// cgroupFD is the fd for CLONE_INTO_CGROUP, so the child stage starts in
// its cgroup and its cgroup namespace is rooted there.
func (p *placement) cgroupFD() (int, bool) {
	if p == nil {
		return 0, false
	}
	return p.group.PayloadFD(), true
}
