#!/bin/sh
# test/demo.sh BUILDDIR: the foundation demo (./bootstrap demo runs it).
#
# Two vmigd daemons on this host stand for a source and a destination
# host, each with its own control and events sockets in a temporary
# directory. When the simulator is built (BUILDDIR/test/sim/vmig-simdev)
# and the virtio-admin backend too, each gets a simulated PF with 4 VFs.
# The demo asks both daemons for their version, devices (with their
# capabilities) and status through vmigctl, then stops them with SIGTERM
# and checks that each exits 0.
set -eu

B=${1:?usage: test/demo.sh BUILDDIR}
B=$(cd "$B" && pwd)
VMIGD=$B/daemon/vmigd
VMIGCTL=$B/clients/vmigctl
SIMDEV=$B/test/sim/vmig-simdev
VFS=4

for p in "$VMIGD" "$VMIGCTL"; do
	[ -x "$p" ] || { echo "demo: $p is not built (make -C $B)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/vmig-demo.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# Every backend that is built goes into one plugin directory.
mkdir "$tmp/plugins"
for so in "$B"/plugins/*/.libs/*.so; do
	[ -e "$so" ] && ln -s "$so" "$tmp/plugins/"
done
sim=no
if [ -x "$SIMDEV" ] && [ -e "$tmp/plugins/virtio_admin.so" ]; then
	sim=yes
else
	echo "demo: no simulator or virtio-admin backend built: daemons without PFs"
fi

# wait_for WHAT COMMAND...: retry for up to 30 s (a liveness bound).
wait_for() {
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "demo: $what did not come up" >&2
			exit 1
		fi
		sleep 0.1
	done
}

start_host() {
	host=$1
	dir=$tmp/$host
	mkdir "$dir"
	pfargs=""
	if [ $sim = yes ]; then
		"$SIMDEV" --socket "$dir/sim0.sock" --vfs $VFS \
		    --name "$host-sim0" >"$dir/simdev.log" 2>&1 &
		pids="$pids $!"
		eval "${host}_sim=$!"
		wait_for "the $host simulator" test -S "$dir/sim0.sock"
		pfargs="--pf sim0=virtio-admin:sim:$dir/sim0.sock"
	fi
	# shellcheck disable=SC2086
	"$VMIGD" --foreground --config /dev/null \
	    --rpc-url "ipc://$dir/vmigd.sock" \
	    --events-url "ipc://$dir/events.sock" \
	    --plugin-dir "$tmp/plugins" $pfargs >"$dir/vmigd.log" 2>&1 &
	pids="$pids $!"
	eval "${host}_vmigd=$!"
	wait_for "vmigd ($host)" "$VMIGCTL" --connect "ipc://$dir/vmigd.sock" \
	    version
	echo "$host: vmigd pid $(eval echo \$${host}_vmigd), control" \
	    "ipc://$dir/vmigd.sock"
}

say "starting a source and a destination daemon"
start_host source
start_host destination

for host in source destination; do
	url=ipc://$tmp/$host/vmigd.sock
	say "$host: version, devices and capabilities, status"
	run "$VMIGCTL" --connect "$url" version
	echo
	run "$VMIGCTL" --connect "$url" devices
	echo
	run "$VMIGCTL" --connect "$url" status
done

if [ $sim = yes ]; then
	say "one device as JSON (source)"
	"$VMIGCTL" --connect "ipc://$tmp/source/vmigd.sock" --json \
	    devices sim0 | sed -n '/"devices"/,/^      },$/p'
fi

say "stopping both daemons (SIGTERM)"
status=0
for host in source destination; do
	pid=$(eval echo \$${host}_vmigd)
	kill -TERM "$pid"
	if wait "$pid"; then
		echo "$host: vmigd exited 0"
	else
		rc=$?
		echo "$host: vmigd exited $rc; its log:" >&2
		cat "$tmp/$host/vmigd.log" >&2
		status=1
	fi
	if [ $sim = yes ]; then
		spid=$(eval echo \$${host}_sim)
		kill -TERM "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
	fi
done
pids=""
[ $status -eq 0 ] && say "demo done"
exit $status
