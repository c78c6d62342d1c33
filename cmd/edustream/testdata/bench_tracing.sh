#!/bin/sh
# Compares the catalog with tracing off and at 100 % sampling
# (BenchmarkCatalogTracing): one test binary, run once per variant and
# round, each variant in a process of its own, alternating which goes
# first, so that the machine's drift (neighbours, thermal) falls on both
# alike. Prints every round, then the medians per variant.
#
#   cmd/edustream/testdata/bench_tracing.sh [rounds] [benchtime]
#
# Run from the repository root. EDUSTREAM_TEST_MYSQL_DSN adds MariaDB.
set -eu
rounds=${1:-6}
benchtime=${2:-1s}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/edustream.test" ./cmd/edustream

i=1
while [ "$i" -le "$rounds" ]; do
	if [ $((i % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
	for variant in $order; do
		# GOGC=400: what dev, serve and work run with.
		EDUSTREAM_BENCH_TRACING=$variant GOGC=400 "$dir/edustream.test" \
			-test.run '^$' -test.bench '^BenchmarkCatalogTracing$' -test.benchtime "$benchtime" |
			sed -n "s/^BenchmarkCatalogTracing\/\([^ 	]*\)/$variant \1/p" | tee -a "$dir/results"
	done
	i=$((i + 1))
done

echo
echo "medians of $rounds rounds (variant, case, then each unit)"
# Lines: variant case N value unit value unit ...
awk '
{
	key = $1 " " $2
	keys[key] = 1
	for (f = 4; f < NF; f += 2) {
		unit = $(f + 1)
		units[key, unit] = 1
		n = ++count[key, unit]
		vals[key, unit, n] = $f
	}
}
function median(key, unit,    n, i, j, t, a) {
	n = count[key, unit]
	for (i = 1; i <= n; i++) a[i] = vals[key, unit, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	split("ns/op cpu-ns/op B/op allocs/op spans/op", order, " ")
	for (key in keys) {
		line = key
		for (i = 1; i <= 5; i++)
			if ((key, order[i]) in units) line = line sprintf("  %g %s", median(key, order[i]), order[i])
		print line
	}
}' "$dir/results" | sort -k2,2 -k1,1
