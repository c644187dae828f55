//go:build amd64

package undo

import (
	"encoding/binary"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// The waiter's bytes, disassembled, are the listing in waitThenExec's doc
// comment, instruction by instruction: the comment is what a reviewer
// reads, the bytes are what runs.
func TestWaitThenExecMatchesListing(t *testing.T) {
	listing := waitThenExecListing(t)
	elf := waitThenExec()
	code := elf[binary.LittleEndian.Uint64(elf[24:])-0x400000:] // from the entry point on

	var pcs []int
	var insts []x86asm.Inst
	for pc := 0; pc < len(code); {
		inst, err := x86asm.Decode(code[pc:], 64)
		if err != nil {
			t.Fatalf("byte %d of the code does not decode: %v", pc, err)
		}
		pcs, insts = append(pcs, pc), append(insts, inst)
		pc += inst.Len
	}
	if len(insts) != len(listing) {
		t.Fatalf("the code holds %d instructions, the listing %d", len(insts), len(listing))
	}
	labels := map[string]int{} // "1" -> the pc it marks
	for i, l := range listing {
		if l.label != "" {
			labels[l.label] = pcs[i]
		}
	}
	for i, inst := range insts {
		got := normalIntel(x86asm.IntelSyntax(inst, uint64(pcs[i]), nil))
		want := listing[i].text
		if m := jumpLabel.FindStringSubmatch(want); m != nil {
			pc, ok := labels[m[2]]
			if !ok {
				t.Fatalf("listing line %q jumps to no label", want)
			}
			want = m[1] + strconv.Itoa(pc)
		}
		if got != want {
			t.Errorf("instruction %d at byte %d is %q, the listing says %q", i, pcs[i], got, want)
		}
	}
}

// listed is one instruction of the listing, with the label it carries.
type listed struct{ label, text string }

var (
	labelPrefix = regexp.MustCompile(`^(\d+):\s*`)
	jumpLabel   = regexp.MustCompile(`^(j\w+ )(\d+)[bf]$`)
	hexNumber   = regexp.MustCompile(`-?0x[0-9a-f]+`)
	scaleFirst  = regexp.MustCompile(`(\d+)\*(\w+)`)
)

// waitThenExecListing reads the instructions of waitThenExec's doc
// comment: its indented lines, without comments, labels apart.
func waitThenExecListing(t *testing.T) []listed {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "waiter.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "waitThenExec" {
			doc = fn.Doc.Text()
		}
	}
	var out []listed
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "\t") {
			continue
		}
		line, _, _ = strings.Cut(line, ";")
		line = strings.TrimSpace(line)
		var l listed
		if m := labelPrefix.FindStringSubmatch(line); m != nil {
			l.label, line = m[1], line[len(m[0]):]
		}
		l.text = strings.Join(strings.Fields(line), " ")
		out = append(out, l)
	}
	if len(out) == 0 {
		t.Fatal("no listing in waitThenExec's doc comment")
	}
	return out
}

// normalIntel writes x86asm's Intel syntax as the listing does: decimal
// numbers, no operand sizes, the register before its scale, and the
// mnemonics of the GNU assembler's Intel mode for conditional jumps.
func normalIntel(s string) string {
	s = strings.NewReplacer("qword ptr ", "", "ptr ", "").Replace(s)
	s = scaleFirst.ReplaceAllString(s, "$2*$1")
	s = hexNumber.ReplaceAllStringFunc(s, func(h string) string {
		n, _ := strconv.ParseInt(strings.Replace(h, "0x", "", 1), 16, 64)
		return fmt.Sprint(n)
	})
	mnemonic, rest, _ := strings.Cut(s, " ")
	if m, ok := map[string]string{"jz": "je", "jnz": "jne", "jnle": "jg"}[mnemonic]; ok {
		mnemonic = m
	}
	return strings.TrimSpace(mnemonic + " " + rest)
}
