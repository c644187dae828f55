package tests

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBoot boots the systemd tree and powers it off: seconds from
// start to READY=1 on the service manager's socket (--notify-ready=yes),
// and from SIGTERM to exit, ours beside systemd-nspawn on copies of the
// same tree. Each iteration gets a fresh copy, made outside the timing.
func BenchmarkBoot(b *testing.B) {
	pristine := systemdTreeOnce()
	for _, tool := range []struct {
		name string
		bin  string
		args []string
	}{
		{"nspawn", nspawnBin, nil},
		{"systemd-nspawn", "systemd-nspawn", []string{"--register=no", "--keep-unit"}},
	} {
		b.Run(tool.name, func(b *testing.B) {
			bin, err := exec.LookPath(tool.bin)
			if err != nil {
				b.Skipf("needs %s", tool.bin)
			}
			var ready, stop time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tree := copyTree(b, pristine)
				b.StartTimer()
				r, s := bootAndStop(b, bin, append(tool.args, "-q", "-D", tree, "-b", "--notify-ready=yes", "--console=passive"))
				ready += r
				stop += s
			}
			b.ReportMetric(ready.Seconds()/float64(b.N), "s-to-ready")
			b.ReportMetric(stop.Seconds()/float64(b.N), "s-to-exit")
		})
	}
}

// bootAndStop starts a booting tool with the benchmark as its service
// manager, waits for READY=1, sends SIGTERM and waits for the exit.
func bootAndStop(b *testing.B, bin string, args []string) (ready, stop time.Duration) {
	conn, path := notifyListener(b)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Process.Kill()
	for {
		msg := receive(conn, 120*time.Second)
		if msg == "" {
			b.Fatalf("%s: no READY=1 within 120 s", bin)
		}
		if strings.Contains(msg, "READY=1") {
			break
		}
	}
	ready = time.Since(start)
	start = time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("%s after SIGTERM: %v", bin, err)
	}
	return ready, time.Since(start)
}
