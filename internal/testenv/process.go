package testenv

import (
	"os/exec"
	"syscall"
)

// ChildProcAttr returns the attributes of a child process a test starts
// (a server, the binary under test) that make it die with the test process
// where the system can (Linux), even when go test kills the test on a
// timeout or a panic before any cleanup runs. Start the child with
// StartChild: the signal is tied to the thread that starts it.
func ChildProcAttr() *syscall.SysProcAttr { return childProcAttr() }

// StartChild starts cmd (cmd.Start) with ChildProcAttr's attributes
// added, from a thread that lives as long as the test process, so the
// child dies with the process and not before.
func StartChild(cmd *exec.Cmd) error { return startServer(cmd) }
