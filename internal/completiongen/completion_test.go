package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nspawn/nspawn/nspawn"
)

// TestCompletionsCommitted: the committed scripts are what the generator
// writes from today's options, so a new option cannot be left out.
func TestCompletionsCommitted(t *testing.T) {
	for name, want := range scripts() {
		got, err := os.ReadFile(filepath.Join("../../completions", name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("completions/%s is stale; run: go generate ./internal/completiongen", name)
		}
	}
}

// bashDefaultWordbreaks is COMP_WORDBREAKS in an interactive bash.
const bashDefaultWordbreaks = " \t\n\"'><=;|&(:"

// complete runs the bash completion for line, the cursor at its end, in
// a real `bash --norc`, and returns COMPREPLY. It splits line into
// COMP_WORDS as readline does for unquoted words: at blanks, and at each
// run of COMP_WORDBREAKS characters, which is a word of its own.
func complete(t *testing.T, line string, env ...string) []string {
	t.Helper()
	var words []string
	word, inBreak := "", false
	for _, r := range line {
		switch {
		case r == ' ':
			if word != "" {
				words = append(words, word)
			}
			word, inBreak = "", false
		case strings.ContainsRune("\"'><=;|&(:", r):
			if !inBreak && word != "" {
				words = append(words, word)
				word = ""
			}
			word, inBreak = word+string(r), true
		default:
			if inBreak {
				words = append(words, word)
				word = ""
			}
			word, inBreak = word+string(r), false
		}
	}
	words = append(words, word) // the word being completed, maybe ""
	var script strings.Builder
	script.WriteString("source ../../completions/nspawn.bash || exit 1\n")
	script.WriteString("COMP_WORDBREAKS=" + shellQuote(bashDefaultWordbreaks) + "\n")
	script.WriteString("COMP_WORDS=(")
	for _, w := range words {
		script.WriteString(shellQuote(w) + " ")
	}
	script.WriteString(")\n")
	script.WriteString("COMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n")
	script.WriteString("COMP_LINE=" + shellQuote(line) + "\nCOMP_POINT=${#COMP_LINE}\n")
	script.WriteString("_nspawn nspawn \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\" || exit 1\n")
	script.WriteString("printf '%s\\n' \"${COMPREPLY[@]}\"\n")
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script.String())
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("completing %q: %v\n%s", line, err, out)
	}
	var reply []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			reply = append(reply, l)
		}
	}
	slices.Sort(reply)
	return reply
}

// TestBashOffersEveryOption: "--" completes to exactly the long options
// --help lists, "-" to those and the short ones.
func TestBashOffersEveryOption(t *testing.T) {
	var long, all []string
	for _, o := range nspawn.CompletionOptions() {
		if o.Long != "" {
			long = append(long, "--"+o.Long)
		}
		all = append(all, optionNames(o)...)
	}
	slices.Sort(long)
	slices.Sort(all)
	if got := complete(t, "nspawn --"); !slices.Equal(got, long) {
		t.Errorf("nspawn --<TAB> offers\n%q\nwant\n%q", got, long)
	}
	if got := complete(t, "nspawn -q -"); !slices.Equal(got, all) {
		t.Errorf("nspawn -q -<TAB> offers\n%q\nwant\n%q", got, all)
	}
	if got := complete(t, "nspawn --private-users-o"); !slices.Equal(got, []string{"--private-users-ownership"}) {
		t.Errorf("nspawn --private-users-o<TAB> offers %q", got)
	}
}

// TestBashValues: enumerated options offer their parser's words, after
// '=' and as the next word; bash replaces only what follows the last
// '=' or ':', so replies are that part.
func TestBashValues(t *testing.T) {
	for _, row := range []struct {
		line string
		want []string
	}{
		{"nspawn --volatile=", []string{"no", "overlay", "state", "yes"}},
		{"nspawn --volatile=s", []string{"state"}},
		{"nspawn --settings ", []string{"no", "override", "trusted", "yes"}},
		{"nspawn --resolv-conf=copy-", []string{"copy-host", "copy-static", "copy-stub", "copy-uplink"}},
		{"nspawn --timezone=s", []string{"symlink"}},
		{"nspawn --link-journal try", []string{"try-guest", "try-host"}},
		{"nspawn --private-users=", []string{"identity", "no", "pick", "yes"}},
		{"nspawn --private-users-ownership=", []string{"auto", "chown", "map", "off"}},
		{"nspawn --console=", []string{"autopipe", "interactive", "passive", "pipe", "read-only"}},
		{"nspawn --network-configure=", []string{"auto", "networkd", "nspawn"}},
		{"nspawn --notify-ready=", []string{"no", "yes"}},
		{"nspawn -q --kill-signal=SIGRTMIN+1", []string{"SIGRTMIN+1", "SIGRTMIN+10", "SIGRTMIN+11", "SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14", "SIGRTMIN+15", "SIGRTMIN+16", "SIGRTMIN+17", "SIGRTMIN+18", "SIGRTMIN+19"}},
		{"nspawn --kill-signal SIGTE", []string{"SIGTERM"}},
		{"nspawn --capability=CAP_NET_ADMIN,CAP_SYS_T", []string{"CAP_NET_ADMIN,CAP_SYS_TIME", "CAP_NET_ADMIN,CAP_SYS_TTY_CONFIG"}},
		{"nspawn --rlimit=RLIMIT_NOF", []string{"RLIMIT_NOFILE="}},
		{"nspawn --system-call-filter=~@mo", []string{"~@module", "~@mount"}},
		{"nspawn --stats=j", []string{"json"}},
		// Optional values come only after '=': the next word is the command.
		{"nspawn --volatile lsbl", []string{"lsblk"}},
		// Options end at the first operand: values and flags are its.
		{"nspawn -D / ls --volatile=", nil},
		// -- ends the options.
		{"nspawn -- --volatile=", nil},
	} {
		if got := complete(t, row.line); !slices.Equal(got, row.want) {
			t.Errorf("%s<TAB> offers %q, want %q", row.line, got, row.want)
		}
	}
}

// TestBashPaths: directories for -D in its three spellings, files for
// --bind's source and after --overlay's colons, users of the tree -D names.
func TestBashPaths(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"tree/etc", "trek"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "tree/etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "treefile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(dir, "tr")
	for _, row := range []struct {
		line string
		want []string
	}{
		{"nspawn -D " + tr, []string{tr + "ee", tr + "ek"}},
		{"nspawn --directory=" + tr, []string{tr + "ee", tr + "ek"}},
		{"nspawn -qD" + tr, []string{"-qD" + tr + "ee", "-qD" + tr + "ek"}},
		{"nspawn --template " + tr, []string{tr + "ee", tr + "ek"}},
		{"nspawn --bind=" + tr, []string{tr + "ee", tr + "eefile", tr + "ek"}},
		// Past the source, --bind's words are inside the tree: nothing.
		{"nspawn --bind=" + tr + "ee:/b", nil},
		{"nspawn --overlay=" + dir + "/trek:" + tr, []string{tr + "ee", tr + "eefile", tr + "ek"}},
		{"nspawn --load-credential=id:" + tr, []string{tr + "ee", tr + "eefile", tr + "ek"}},
		{"nspawn -D " + dir + "/tree -u al", []string{"alice"}},
		{"nspawn -D" + dir + "/tree --user=", []string{"alice", "root"}},
	} {
		if got := complete(t, row.line); !slices.Equal(got, row.want) {
			t.Errorf("%s<TAB> offers %q, want %q", row.line, got, row.want)
		}
	}
	// With no tree, -u offers the host's users.
	if got := complete(t, "nspawn -u roo"); !slices.Contains(got, "root") {
		t.Errorf("nspawn -u roo<TAB> offers %q, want root among them", got)
	}
}

// TestBashCommand: after the options, the command; after the command,
// its arguments are files (bash-completion, where loaded, does better).
func TestBashCommand(t *testing.T) {
	if got := complete(t, "nspawn -D / bas"); !slices.Contains(got, "bash") {
		t.Errorf("nspawn -D / bas<TAB> offers %q, want bash among them", got)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "script.sh"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := complete(t, "nspawn -b bash "+dir+"/scr"); !slices.Equal(got, []string{dir + "/script.sh"}) {
		t.Errorf("nspawn -b bash %s/scr<TAB> offers %q", dir, got)
	}
}

// TestBashInterfaces: --network-interface offers the host's interfaces
// but lo.
func TestBashInterfaces(t *testing.T) {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Skip("no /sys/class/net:", err)
	}
	var want []string
	for _, e := range entries {
		if e.Name() != "lo" {
			want = append(want, e.Name())
		}
	}
	slices.Sort(want)
	if got := complete(t, "nspawn --network-interface="); !slices.Equal(got, want) {
		t.Errorf("--network-interface=<TAB> offers %q, want %q", got, want)
	}
}

// TestBashMachines: -M offers the trees in the image search path; a tree
// made in /run/machines (the search path's place for the runtime's own)
// shows up, a plain file there does not.
func TestBashMachines(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a tree in /run/machines")
	}
	name := "nspawn-completion-test"
	if err := os.MkdirAll("/run/machines", 0o755); err != nil {
		t.Fatal(err)
	}
	tree, err := os.MkdirTemp("/run/machines", name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tree) })
	file := tree + "-file"
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(file) })
	want := []string{filepath.Base(tree)}
	for _, line := range []string{"nspawn -M " + name, "nspawn --machine=" + name, "nspawn -q --machine " + name} {
		if got := complete(t, line); !slices.Equal(got, want) {
			t.Errorf("%s<TAB> offers %q, want %q", line, got, want)
		}
	}
}

// TestZshLoads: zsh parses _nspawn and compinit binds it to nspawn. (Its
// completions were tried by hand in an interactive zsh; driving zsh's
// completion widget from a test needs a terminal.)
func TestZshLoads(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh")
	}
	dir, err := filepath.Abs("../../completions")
	if err != nil {
		t.Fatal(err)
	}
	script := "fpath=(" + shellQuote(dir) + " $fpath); autoload -U compinit; compinit -u -d " + shellQuote(t.TempDir()+"/zcompdump") +
		"; zsh -n " + shellQuote(dir+"/_nspawn") + " && print -r -- $_comps[nspawn]"
	out, err := exec.Command("zsh", "-f", "-c", script).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "_nspawn" {
		t.Errorf("zsh: compinit binds nspawn to %q (%v), want _nspawn", out, err)
	}
}
