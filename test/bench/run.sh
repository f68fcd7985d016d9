#!/bin/sh
# run.sh BUILDDIR [--quick] [--only NAME,...]: every benchmark of vmigd.
#
# `./bootstrap bench` builds (make bench) and runs this. Each benchmark
# runs with --json: its JSON goes to BUILDDIR/bench/NAME.json, its table
# and progress to the terminal (the C benchmarks print no table with
# --json: their JSON is shown as one). At the end all results are merged
# into BUILDDIR/bench-results.json, with the machine, the load average and
# each benchmark's exit status. A failing benchmark does not stop the
# others; the exit status is 1 if any failed.
#
#   --quick   small sizes (a smoke test: a few minutes in all)
#   --only    e.g. --only throughput,converge
#
# Names: rpc_latency adminq_rate stream_throughput converge_sim
# journal_cost (C),
# throughput converge scale (Python, test/bench/*.py).
set -u

usage() {
	echo "usage: $0 BUILDDIR [--quick] [--only NAME,...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
[ -d "$1" ] || { echo "$0: $1: no such build directory" >&2; exit 2; }
B=$(cd "$1" && pwd)
shift
SRC=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$SRC/test/bench"
PY=/usr/bin/python3
quick=0
only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--only) [ $# -ge 2 ] || usage; only=",$2,"; shift ;;
	--only=*) only=",${1#--only=},";;
	*) usage ;;
	esac
	shift
done

VMIG_BUILDDIR=$B
VMIG_SRCDIR=$SRC
PYTHONDONTWRITEBYTECODE=1
export VMIG_BUILDDIR VMIG_SRCDIR PYTHONDONTWRITEBYTECODE
OUT="$B/bench"
mkdir -p "$OUT"
merge=""
failed=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

wanted() {
	[ -z "$only" ] && return 0
	case "$only" in *",$1,"*) return 0 ;; esac
	return 1
}

# run NAME KIND COMMAND...: KIND c (show the JSON as a table) or py
run() {
	name=$1 kind=$2
	shift 2
	wanted "$name" || return 0
	say "$name: $*"
	rm -f "$OUT/$name.json"
	"$@" >"$OUT/$name.json"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$name: exit status $rc" >&2
		failed=1
	fi
	if [ "$kind" = c ] && [ -s "$OUT/$name.json" ]; then
		"$PY" "$HERE/benchlib.py" show "$OUT/$name.json" ||
			cat "$OUT/$name.json"
	fi
	merge="$merge $name:$rc=$OUT/$name.json"
}

need() {
	[ -x "$B/$1" ] && return 0
	echo "$B/$1: not built (make -C $B bench)" >&2
	failed=1
	return 1
}

say "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

if [ $quick -eq 1 ]; then
	RPC="--calls 2000"
	ADMINQ="--seconds 0.3"
	STREAM="--size 128M --runs 1"
	PYQ="--quick"
	JOURNAL="--records 5 --rounds 3"
else
	RPC=""
	ADMINQ=""
	STREAM="--size 1G --runs 3"
	PYQ=""
	JOURNAL=""
fi

# shellcheck disable=SC2086
{
need test/bench/rpc_latency &&
	run rpc_latency c "$B/test/bench/rpc_latency" $RPC --json
need test/bench/adminq_rate &&
	run adminq_rate c "$B/test/bench/adminq_rate" $ADMINQ --json
need test/bench/stream_throughput &&
	run stream_throughput c "$B/test/bench/stream_throughput" $STREAM --json
need test/bench/converge_sim &&
	run converge_sim c "$B/test/bench/converge_sim" --json
need test/bench/journal_cost &&
	run journal_cost c "$B/test/bench/journal_cost" $JOURNAL --json
run throughput py "$PY" "$HERE/throughput.py" "$B" $PYQ --json
run converge py "$PY" "$HERE/converge.py" "$B" $PYQ --json
run scale py "$PY" "$HERE/scale.py" "$B" $PYQ --json
}

# shellcheck disable=SC2086
"$PY" "$HERE/benchlib.py" merge "$B/bench-results.json" "$quick" $merge ||
	failed=1
say "results: $B/bench-results.json (per benchmark: $OUT/NAME.json)"
if [ $failed -ne 0 ]; then
	echo "some benchmarks failed: see above" >&2
	exit 1
fi
exit 0
