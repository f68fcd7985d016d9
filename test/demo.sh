#!/bin/sh
# test/demo.sh BUILDDIR: what ./bootstrap demo runs: eight virtio VFs and four
# VFIO VFs (--vfio N) live-migrated
# between two daemons on this machine (test/demo.py says how). Debian's
# interpreter: it sees python3-protobuf, a pyenv python3 on PATH does not.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/demo.py" "$@"
