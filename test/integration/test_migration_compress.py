#!/usr/bin/env python3
"""test_migration_compress: page compression on the data connections.

Two real vmigd hosts (test_migration_lib). With [daemon] compression =
lz4 or zstd on the source, a VF whose memory compresses (each page a
quarter random) migrates byte for byte while a workload writes it; both
sides' JobStats count the pages' bytes before and after compression
alike, fewer bytes crossed the wire than the pages held, and `vmigctl
job` shows the ratio; a migration's policy (compression = ZSTD) overrides
the daemon's off. With compression = off nothing is compressed, and
random memory is never compressed in any mode (the policy's sample).
The destination's checks of hostile compressed batches are
test_migration_peer.py's (FakeSource) and test_datalink's.
"""

import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_migration_lib import MigrationCase  # noqa: E402
from vmig import pb  # noqa: E402
import vmigtest  # noqa: E402

VF = 1


class Compressed(MigrationCase):
    SRC_CONFIG = "[daemon]\ncompression = lz4\n"
    FILL = "compressible"

    POLICY = {}

    def migrate(self):
        self.pair(VF, workload="hot", fill=self.FILL)
        jid, prep = self.start_migration(VF, dict(self.POLICY))
        sjob, djob = self.assert_completed(VF, jid, prep)
        return jid, sjob.stats, djob.stats

    def test_pages_compress_and_land_byte_for_byte(self):
        jid, s, d = self.migrate()
        self.assertGreater(s.compress_bytes_in, 0, "nothing compressed")
        self.assertLess(s.compress_bytes_out, s.compress_bytes_in // 2)
        self.assertEqual((d.compress_bytes_in, d.compress_bytes_out),
                         (s.compress_bytes_in, s.compress_bytes_out))
        # what crossed the wire: less than the pages held
        self.assertLess(s.bytes_sent, s.memory_processed)
        self.assertEqual(s.memory_processed, d.memory_processed)
        out = subprocess.run(
            [vmigtest.vmigctl_path(), "--connect", self.src.daemon.rpc_url,
             "job", str(jid)], capture_output=True, text=True,
            timeout=vmigtest.LIVENESS_S)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"compressed: .* of pages into .* "
                         r"\(\d+\.\d\dx\)")


class CompressedZstd(Compressed):
    SRC_CONFIG = "[daemon]\ncompression = zstd\n"


class PerMigration(Compressed):
    """The daemon says off, the migration's policy says zstd."""
    SRC_CONFIG = "[daemon]\ncompression = off\n"
    POLICY = dict(compression=pb.COMPRESSION_ZSTD)


class RandomMemory(Compressed):
    """Forced lz4, random memory: every batch's sample says no."""
    FILL = "random"

    def test_pages_compress_and_land_byte_for_byte(self):
        # the name of the base's test: here none is compressed
        _, s, d = self.migrate()
        self.assertEqual((s.compress_bytes_in, s.compress_bytes_out,
                          d.compress_bytes_in, d.compress_bytes_out),
                         (0, 0, 0, 0))
        self.assertGreaterEqual(s.bytes_sent, s.memory_processed)


class Off(RandomMemory):
    """Compressible memory, compression = off: none compressed."""
    SRC_CONFIG = "[daemon]\ncompression = off\n"
    FILL = "compressible"


if __name__ == "__main__":
    unittest.main(verbosity=2)
