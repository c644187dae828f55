package nspawn

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOptionsStopsAtCommand(t *testing.T) {
	o, err := ParseOptions([]string{"-D", "t", "-q", "ls", "-la", "--bind=/x"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Directory != "t" || !o.Quiet || !reflect.DeepEqual(o.Command, []string{"ls", "-la", "--bind=/x"}) {
		t.Fatalf("got %+v", o)
	}
}

func TestParseOptionsRepeatable(t *testing.T) {
	o, err := ParseOptions([]string{"-E", "A=1", "--setenv=B=2", "--bind=/a", "--bind", "/b:/c", "--bind-ro=/d", "--tmpfs=/e", "-u", "nobody", "--chdir=/data", "-a"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Setenv, []string{"A=1", "B=2"}) || !reflect.DeepEqual(o.Binds, []string{"/a", "/b:/c"}) ||
		!reflect.DeepEqual(o.BindsRO, []string{"/d"}) || !reflect.DeepEqual(o.Tmpfs, []string{"/e"}) ||
		o.User != "nobody" || o.Chdir != "/data" || !o.AsPID2 || len(o.Command) != 0 {
		t.Fatalf("got %+v", o)
	}
}

func TestParseOptionsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"-D"},
		{"--share-network", "--private-network"},
	} {
		if _, err := ParseOptions(args); err == nil {
			t.Errorf("ParseOptions(%q): want an error", args)
		}
	}
}

func TestHelpListsEveryOption(t *testing.T) {
	var b strings.Builder
	WriteHelp(&b)
	for _, want := range []string{"--directory", "--machine", "--hostname", "--uuid", "--user", "--chdir", "--setenv",
		"--quiet", "--as-pid2", "--kill-signal", "--bind", "--bind-ro", "--tmpfs", "--read-only", "--private-network",
		"--share-network", "--help", "--version"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("--help lacks %s", want)
		}
	}
}
