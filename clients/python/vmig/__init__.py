"""Python client for vmigd, the passthrough device live-migration daemon.

    import vmig
    with vmig.Client("ipc:///run/vmigd/vmigd.sock") as c:
        print(c.get_version())
        for dev in c.list_devices().devices:
            print(dev.name, vmig.pb.DeviceMode.Name(dev.mode))

Needs Debian's python3-protobuf (use /usr/bin/python3) and libnng1, and
vmig_pb2 generated from proto/vmig.proto: `make install` (or the
python3-vmig package) puts it inside the package; from a build tree,
BUILDDIR/clients/python must be on PYTHONPATH.
"""

from .client import (Client, Events, default_url,  # noqa: F401
                     downtime_prediction, events, pb)
from .errors import *  # noqa: F401,F403
from .errors import VmigError, error_for  # noqa: F401

__version__ = "0.1.0"
