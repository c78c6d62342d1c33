//go:build !unix

package testenv

import "testing"

// ReportCPU reports nothing where the process's CPU time is not at hand.
func ReportCPU(b *testing.B) (stop func()) { return func() {} }
