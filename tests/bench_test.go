package tests

import (
	"io"
	"os/exec"
	"syscall"
	"testing"

	"github.com/creack/pty"
)

// consoleBytes is what BenchmarkConsoleCat pushes through the console.
const consoleBytes = 1 << 30

// BenchmarkConsoleCat measures the interactive console's relay: the payload
// writes 1 GiB of zeros to its pty, nspawn relays it to its own terminal
// (a pty the benchmark drains). The same through systemd-nspawn's console
// runs beside it for the ratio `make bench` prints.
func BenchmarkConsoleCat(b *testing.B) {
	cat := []string{"head", "-c", "1073741824", "/dev/zero"}
	b.Run("nspawn", func(b *testing.B) {
		benchConsole(b, nspawnBin, append([]string{"-q", "-D", debianTree}, cat...)...)
	})
	b.Run("systemd-nspawn", func(b *testing.B) {
		sdn, err := exec.LookPath("systemd-nspawn")
		if err != nil {
			b.Skip("needs systemd-nspawn")
		}
		// systemd-nspawn writes into its tree; give it a copy.
		tree := copyTree(b, debianTree)
		benchConsole(b, sdn, append([]string{"--register=no", "--keep-unit", "-q", "-D", tree}, cat...)...)
	})
}

func benchConsole(b *testing.B, bin string, args ...string) {
	b.SetBytes(consoleBytes)
	for b.Loop() {
		master, slave, err := pty.Open()
		if err != nil {
			b.Fatal(err)
		}
		pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: 80})
		cmd := exec.Command(bin, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		slave.Close()
		n, _ := io.CopyBuffer(io.Discard, master, make([]byte, 1<<16))
		cmd.Wait()
		master.Close()
		if n < consoleBytes {
			b.Fatalf("%s relayed %d bytes, want at least %d", bin, n, consoleBytes)
		}
	}
}
