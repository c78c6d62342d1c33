//go:build !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// startServer starts cmd: only Linux can tie a child's life to its
// parent's.
func startServer(cmd *exec.Cmd) error { return cmd.Start() }

func childProcAttr() *syscall.SysProcAttr { return nil }
