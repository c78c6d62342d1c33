package testenv

import "syscall"

// ChildProcAttr returns the attributes of a child process a test starts
// (a server, the binary under test) that make it die with the test process
// where the system can (Linux), even when go test kills the test on a
// timeout or a panic before any cleanup runs.
func ChildProcAttr() *syscall.SysProcAttr { return serverProcAttr() }
