package nspawn

import (
	"slices"
	"testing"
)

func TestPassedListenFDs(t *testing.T) {
	open := func(fd int) bool { return fd < 6 } // 3, 4 and 5 are open
	for _, tc := range []struct {
		name string
		env  []string
		want int
	}{
		{"ours", []string{"LISTEN_PID=42", "LISTEN_FDS=2"}, 2},
		{"all open", []string{"LISTEN_PID=42", "LISTEN_FDS=3"}, 3},
		{"another process's", []string{"LISTEN_PID=7", "LISTEN_FDS=2"}, 0},
		{"no LISTEN_PID", []string{"LISTEN_FDS=2"}, 0},
		{"bad LISTEN_PID", []string{"LISTEN_PID=x", "LISTEN_FDS=2"}, 0},
		{"no LISTEN_FDS", []string{"LISTEN_PID=42"}, 0},
		{"zero", []string{"LISTEN_PID=42", "LISTEN_FDS=0"}, 0},
		{"negative", []string{"LISTEN_PID=42", "LISTEN_FDS=-1"}, 0},
		{"not a number", []string{"LISTEN_PID=42", "LISTEN_FDS=two"}, 0},
		{"wild", []string{"LISTEN_PID=42", "LISTEN_FDS=99999999"}, 0},
		{"one not open", []string{"LISTEN_PID=42", "LISTEN_FDS=4"}, 0},
	} {
		if got := passedListenFDs(tc.env, 42, open); got != tc.want {
			t.Errorf("%s: %v: got %d, want %d", tc.name, tc.env, got, tc.want)
		}
	}
}

func TestChildFilesListenFDs(t *testing.T) {
	none := ^uintptr(0)
	for _, tc := range []struct {
		lastPID, listen int
		want            []uintptr
	}{
		{-1, 0, []uintptr{0, 1, 2, 10, 11}},
		{12, 0, []uintptr{0, 1, 2, 10, 11, 12}},
		{-1, 2, []uintptr{0, 1, 2, 10, 11, none, 3, 4}},
		{12, 1, []uintptr{0, 1, 2, 10, 11, 12, 3}},
	} {
		got := childFiles([]uintptr{0, 1, 2}, 10, 11, tc.lastPID, tc.listen)
		if !slices.Equal(got, tc.want) {
			t.Errorf("childFiles(lastPID %d, listen %d) = %v, want %v", tc.lastPID, tc.listen, got, tc.want)
		}
		if tc.listen > 0 && got[listenFDsBase] != sdListenFDsStart {
			t.Errorf("the first socket-activation fd is not at listenFDsBase: %v", got)
		}
	}
	if got := payloadFiles(2); !slices.Equal(got, []uintptr{0, 1, 2, listenFDsBase, listenFDsBase + 1}) {
		t.Errorf("payloadFiles(2) = %v", got)
	}
}

func TestListenEnv(t *testing.T) {
	host := []string{"LISTEN_FDNAMES=web:admin"}
	for _, tc := range []struct {
		plan Plan
		host []string
		want []string
	}{
		{Plan{}, host, nil},
		{Plan{Payload: Payload{ListenFDs: 2}}, host, []string{"LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=web:admin"}},
		{Plan{Payload: Payload{ListenFDs: 1}, Boot: true}, nil, []string{"LISTEN_FDS=1", "LISTEN_PID=1"}},
		{Plan{Payload: Payload{ListenFDs: 1}, AsPID2: true}, nil, []string{"LISTEN_FDS=1", "LISTEN_PID=2"}},
	} {
		if got := listenEnv(&tc.plan, tc.host); !slices.Equal(got, tc.want) {
			t.Errorf("listenEnv(%d fds, boot %v, as-pid2 %v) = %q, want %q", tc.plan.ListenFDs, tc.plan.Boot, tc.plan.AsPID2, got, tc.want)
		}
	}
}
