#!/bin/sh
# Compares BenchmarkCatalogMetrics's variants (metrics off, metrics on) in
# alternating rounds: one test binary, built once, run once per variant
# per round, the order of the two swapped every round, so that a
# neighbour's load or a warm-up favours neither. Prints every run, then the
# median ns/op and cpu-ns/op of each request kind per variant and the
# ratio on/off.
#
#   sh cmd/edustream/testdata/bench-metrics.sh [rounds] [benchtime] [kinds]
#
# Defaults: 10 rounds of 2s, every request kind (kinds is a regexp that
# matches whole kind names: graphql, cached, cached-anonymous). GOGC=400
# as serve runs (see the README).
set -eu
rounds=${1:-10}
benchtime=${2:-2s}
kinds=${3:-.*}
cd "$(dirname "$0")/../../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/edustream.test" ./cmd/edustream

i=1
while [ "$i" -le "$rounds" ]; do
  if [ $((i % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
  for v in $order; do
    GOGC=400 "$dir/edustream.test" -test.run '^$' -test.bench "^BenchmarkCatalogMetrics$/^$v$/^($kinds)$" \
      -test.benchtime "$benchtime" -test.count 1 | grep '^BenchmarkCatalogMetrics/' | tee -a "$dir/runs"
  done
  i=$((i + 1))
done

# name: BenchmarkCatalogMetrics/<variant>/<kind>-<procs>; fields: N ns/op
# "ns/op" cpu-ns/op "cpu-ns/op" ...
echo
awk '
  {
    split($1, p, "/"); variant = p[2]; kind = p[3]; sub(/-[0-9]+$/, "", kind)
    n[variant, kind]++; ns[variant, kind, n[variant, kind]] = $3; cpu[variant, kind, n[variant, kind]] = $5
    kinds[kind] = 1
    if (n[variant, kind] > rounds) rounds = n[variant, kind]
  }
  function median(a, v, k, count,   i, j, t, x) {
    for (i = 1; i <= count; i++) x[i] = a[v, k, i]
    for (i = 2; i <= count; i++) for (j = i; j > 1 && x[j-1] > x[j]; j--) { t = x[j]; x[j] = x[j-1]; x[j-1] = t }
    return count % 2 ? x[(count + 1) / 2] : (x[count / 2] + x[count / 2 + 1]) / 2
  }
  END {
    printf "%-18s %12s %12s %8s   %12s %12s %8s\n", "median of " rounds, "off ns/op", "on ns/op", "on/off", "off cpu-ns", "on cpu-ns", "on/off"
    for (k in kinds) {
      offNs = median(ns, "off", k, n["off", k]); onNs = median(ns, "on", k, n["on", k])
      offCPU = median(cpu, "off", k, n["off", k]); onCPU = median(cpu, "on", k, n["on", k])
      printf "%-18s %12.0f %12.0f %8.3f   %12.0f %12.0f %8.3f\n", k, offNs, onNs, onNs / offNs, offCPU, onCPU, onCPU / offCPU
    }
  }' "$dir/runs"
