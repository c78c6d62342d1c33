// Package pair is a benchmark for alternate's test: two variants that
// report fixed values and log the order they ran in.
package pair

import (
	"os"
	"testing"
)

func BenchmarkPair(b *testing.B) {
	for _, v := range []struct {
		name  string
		value float64
	}{{"slow", 3}, {"fast", 2}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
			}
			b.ReportMetric(v.value, "widgets/op")
			if log := os.Getenv("PAIR_LOG"); log != "" {
				f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				f.WriteString(v.name + " " + os.Getenv("GOGC") + "\n")
				f.Close()
			}
		})
	}
}
