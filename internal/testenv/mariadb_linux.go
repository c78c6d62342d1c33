package testenv

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// startServer starts cmd so that it dies with the test process (SIGKILL),
// even when go test kills it on a timeout before any cleanup runs.
//
// Linux sends the parent-death signal when the thread that started the
// child ends, not the process (go.dev/issue/27505), and the Go runtime
// ends a thread whose locked goroutine exits. So every server is started
// from one goroutine locked to its thread for the life of the process.
func startServer(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = childProcAttr()
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread outlives every server
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd, done}
	return <-done
}

var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
