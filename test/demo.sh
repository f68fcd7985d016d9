#!/bin/sh
# test/demo.sh BUILDDIR [--vfio N]: what ./bootstrap demo runs: eight virtio
# VFs and four VFIO VFs live-migrated between two daemons on this machine
# (test/demo.py says how). Debian's interpreter: it sees python3-protobuf, a
# pyenv python3 on PATH does not.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/demo.py" "$@"
