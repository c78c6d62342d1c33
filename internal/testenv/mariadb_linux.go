package testenv

import "syscall"

// serverProcAttr makes a server the test starts die with the test process,
// even when go test kills it on a timeout before any cleanup runs.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
