package security

import (
	"fmt"
	"strings"
)

// SyscallFilter is what --system-call-filter= said, names and @groups as
// given: what to allow beyond systemd-nspawn's list, and what to deny.
type SyscallFilter struct {
	Allow []string
	Deny  []string
	// SuppressSync (--suppress-sync=yes) makes the @sync calls no-ops that
	// return 0 and refuses O_SYNC and O_DSYNC opens with EINVAL, as
	// systemd's seccomp_suppress_sync() does. A call the lists deny stays
	// denied.
	SuppressSync bool
	// AddressFamilies (--restrict-address-families=) limits socket(2).
	AddressFamilies AddressFamilies
}

// ParseSyscallFilter reads --system-call-filter= values in order; the
// lists of all of them accumulate, as systemd-nspawn's do. An error names
// the value and the culprit.
func ParseSyscallFilter(values []string) (SyscallFilter, error) {
	var f SyscallFilter
	var v syscallVocabulary
	for _, value := range values {
		if err := f.add(&v, value); err != nil {
			return SyscallFilter{}, fmt.Errorf("--system-call-filter=%s: %w", value, err)
		}
	}
	return f, nil
}

// Add reads one value as systemd-nspawn(1) does: names and @groups
// separated by whitespace, the whole list a deny list when the value
// starts with "~". Where systemd-nspawn ignores a name it does not know,
// this fails with the name (`unknown system call "fooo"`); the caller
// says which option held it.
func (f *SyscallFilter) Add(value string) error {
	var v syscallVocabulary
	return f.add(&v, value)
}

func (f *SyscallFilter) add(v *syscallVocabulary, value string) error {
	deny := strings.HasPrefix(value, "~")
	// systemd's extract_first_word() with its default separators.
	words := strings.FieldsFunc(strings.TrimPrefix(value, "~"), func(r rune) bool {
		return strings.ContainsRune(" \t\n\r", r)
	})
	for _, w := range words {
		if _, err := v.resolve(w); err != nil {
			return err
		}
	}
	if deny {
		f.Deny = append(f.Deny, words...)
	} else {
		f.Allow = append(f.Allow, words...)
	}
	return nil
}

// allowedSyscalls is nspawn's list for caps plus f's allow list, less
// everything f denies: a deny wins over both, as systemd-nspawn(1) says.
// A denied @group takes every member with it, as the manual describes,
// where systemd-nspawn 252 matches deny entries by name only: there,
// ~@privileged leaves chown allowed through the allowed @chown.
func allowedSyscalls(caps uint64, f SyscallFilter) (map[string]bool, error) {
	var v syscallVocabulary
	allowed := make(map[string]bool, 512)
	for _, list := range []struct {
		words   []string
		allow   bool
		resolve func(string) ([]string, error)
	}{
		{nspawnAllowList(caps), true, v.members},
		{f.Allow, true, v.resolve},
		{f.Deny, false, v.resolve},
	} {
		for _, w := range list.words {
			names, err := list.resolve(w)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if list.allow {
					allowed[n] = true
				} else {
					delete(allowed, n)
				}
			}
		}
	}
	return allowed, nil
}
