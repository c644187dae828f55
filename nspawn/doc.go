// Package nspawn is the command: its options, the plan, the parent's
// start and supervision, and the container's first process. It is the
// only package that knows the order of things. A run goes:
//
//  1. ParseOptions: what the user said, and nothing more.
//  2. ProbeHost: the host facts planning needs, read once.
//  3. BuildPlan: every decision, every user error, before anything
//     exists; the Plan does not change after.
//  4. Populate (template_files.go): with --template, a -D that does not
//     exist is made, a copy renamed into place, and planned again on it.
//     settleUserNS: what only a running nspawn can settle, once for its
//     life: a picked ID range, an ID-mapped tree or a chown.
//  5. container.start, the phases in order: the cgroup's claim and the
//     undo watcher (package undo: every later thing made on the host is
//     recorded first); the tree lock; -x's upper on disk; the message
//     pipe and status socket; the cgroup; the signals; the staging thread,
//     which builds the tree in a mount namespace of its own and clones
//     the child into its namespaces and cgroup (the mount phases of
//     mounts.Phases around the clone); the cgroups cloning could not
//     reach; the child's message, its go-ahead; systemd's scope and
//     machined's registration, once the child reports it stands in the
//     tree (it waits for the word); the links' word.
//  6. The child (child.go), inside: pivot_root, its own mounts, hostname,
//     console, /run/host, tree files, seccomp, capabilities, user, exec.
//  7. supervise: the console relay, stop signals, notify, wait; then the
//     exit status, --stats, and the cgroup removed (cleanUp).
//
// One abort path (container.abort, then cleanUp) undoes a start that
// fails at any phase.
package nspawn
