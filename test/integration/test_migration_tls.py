#!/usr/bin/env python3
"""test_migration_tls: the peer link over tls+tcp:// with mutual TLS.

Two real vmigd hosts (test_migration_lib), certificates made here with
openssl (certs.py): one CA for the hosts, each host a certificate it both
serves and dials with. A VF migrates byte for byte with the stream and
its data connections on TLS; a source without a certificate, one with
another CA's, and one expecting another name each fail with an error
that says so, the source VF running on; without stream_peer_name the
URL's host is the name checked; an expired certificate is refused on
either side. The destination's listener is also knocked on with Python's
ssl module: no certificate, or another CA's, and the handshake fails
before a byte of the stream is read.

Every case runs on both TLS engines ([daemon] tls_engine): OpenSSL (the
default, tls_openssl.c) and Debian libnng's own mbedTLS (the *MbedTLS
classes at the end).
"""

import os
import socket
import ssl
import sys
import tempfile
import shutil
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from certs import CA, have_openssl  # noqa: E402
from test_migration_lib import MigrationCase, phase_name  # noqa: E402
from vmig import pb  # noqa: E402
from vmigtest import LIVENESS_S  # noqa: E402

VF = 1


def security(ca, cert=None, extra=""):
    s = f"[security]\ntls_ca_file = {ca}\n"
    if cert is not None:
        s += f"tls_cert_file = {cert.cert}\ntls_key_file = {cert.key}\n"
    return s + extra


@unittest.skipUnless(have_openssl(), "needs openssl to make certificates")
class PeerTLS(MigrationCase):
    VFS = 1
    LOG_LEVEL = "debug"     # the data links' URLs are logged at debug

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certdir = tempfile.mkdtemp(prefix="vmig-tls-")
        cls.ca = CA(cls.certdir, "hosts-ca")
        cls.dst_cert = cls.ca.issue("dst", peer=True)
        cls.src_cert = cls.ca.issue("src", peer=True)
        cls.other = CA(cls.certdir, "other-ca")
        cls.stranger = cls.other.issue("src", peer=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    ENGINE = "openssl"      # [daemon] tls_engine of both hosts

    def setUp(self):
        engine = f"[daemon]\ntls_engine = {self.ENGINE}\n"
        self.DST_CONFIG = (engine + "stream_bind = tls+tcp://127.0.0.1\n"
                           + security(self.ca.cert, self.dst_cert))
        self.SRC_CONFIG = engine + self.src_security()
        super().setUp()

    def src_security(self):
        return security(self.ca.cert, self.src_cert,
                        "stream_require_tls = yes\n"
                        "stream_peer_name = localhost\n")

    def migrate(self):
        self.pair(VF)
        jid, prep = self.start_migration(VF)
        self.assertTrue(prep.stream_url.startswith("tls+tcp://127.0.0.1:"),
                        prep.stream_url)
        return jid, prep

    def assert_refused(self, jid, prep, says):
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED,
                         f"source job {jid}: {phase_name(job.phase)}")
        self.assertIn(says, job.error)
        self.assert_source_rolled_back(VF)
        self.assertEqual(self.dst.client.get_job(prep.job_id).stats.
                         memory_processed, 0, "a page reached the "
                         "destination")


class Migrates(PeerTLS):
    def test_mutual_tls_migrates_byte_for_byte(self):
        jid, prep = self.migrate()
        self.assert_completed(VF, jid, prep)
        # the pages went on sealed data connections (daemon/dseal.h),
        # not beside them in clear
        self.assertRegex(self.src.daemon.log(),
                         r"data connections to tcp://127\.0\.0\.1:\d+, "
                         r"sealed")
        self.assertRegex(self.dst.daemon.log(),
                         r"data connections on tcp://127\.0\.0\.1:\d+, "
                         r"sealed")
        self.assertIn("dseal_handshake: client done, TLS_AES_128_GCM",
                      self.src.daemon.log())
        self.assertNotIn("pages go on the stream", self.src.daemon.log())
        name = "openssl (OpenSSL " if self.ENGINE == "openssl" else "mbed ("
        for host in (self.src, self.dst):
            self.assertIn(f"tls: engine {name}", host.daemon.log())

    def knock(self, cert=None):
        """A TLS handshake with the destination's stream listener, with
        cert (or none); returns the ssl error, or None if it got in."""
        self.pair(VF, workload=None)
        prep = self.prepare(VF)
        host, port = prep.stream_url[len("tls+tcp://"):].rsplit(":", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_verify_locations(self.ca.cert)
        if cert is not None:
            ctx.load_cert_chain(cert.cert, cert.key)
        with socket.create_connection((host, int(port)),
                                      timeout=LIVENESS_S) as s:
            try:
                with ctx.wrap_socket(s, server_hostname="localhost") as t:
                    # TLS 1.2: the server's verdict on our certificate
                    # comes with its Finished, before any read returns
                    t.recv(1)
                    return None
            except (ssl.SSLError, ConnectionError) as e:
                return e

    def test_destination_requires_a_client_certificate(self):
        self.assertIsNotNone(self.knock(), "a client without a "
                             "certificate got a TLS session")

    def test_destination_refuses_another_cas_certificate(self):
        self.assertIsNotNone(self.knock(self.stranger), "another CA's "
                             "certificate got a TLS session")

    def test_destination_takes_its_cas_certificate(self):
        # the knock itself works: the two refusals above are real ones
        try:
            err = self.knock(self.src_cert)
        except socket.timeout:
            err = None      # in, and the stream waits for our SP header
        self.assertIsNone(err)


class URLHostName(PeerTLS):
    """No stream_peer_name: the destination's certificate must carry the
    URL's host, 127.0.0.1: as an IP SAN on OpenSSL, as a DNS name on
    mbedTLS 2.28 (which matches no IP SAN: README, Security)."""
    SAN = {"openssl": "IP:127.0.0.1", "mbedtls": "DNS:127.0.0.1"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dst_cert = cls.ca.issue("dst-addr", peer=True,
                                    san=cls.SAN[cls.ENGINE])

    def src_security(self):
        return security(self.ca.cert, self.src_cert)

    def test_the_urls_host_is_the_default_name(self):
        jid, prep = self.migrate()
        self.assert_completed(VF, jid, prep)
        self.assertIn("the certificate must name 127.0.0.1",
                      self.src.daemon.log())


class URLHostSpelledAsDNS(URLHostName):
    """OpenSSL also takes an address spelled as a DNS SAN, so that the
    certificates made for mbedTLS keep working."""
    SAN = {"openssl": "DNS:127.0.0.1"}


class NoCertificate(PeerTLS):

    def src_security(self):
        return security(self.ca.cert, None, "stream_require_tls = yes\n")

    def test_source_without_certificate_fails_and_runs_on(self):
        jid, prep = self.migrate()
        self.assert_refused(jid, prep, "tls_cert_file and tls_key_file "
                            "are not both set")


class OtherCA(PeerTLS):

    def src_security(self):
        # it trusts the hosts' CA, but its own certificate is another's
        return security(self.ca.cert, self.stranger,
                        "stream_peer_name = localhost\n")

    def test_source_with_another_cas_certificate_fails_and_runs_on(self):
        jid, prep = self.migrate()
        self.assert_refused(jid, prep, "TLS handshake with "
                            f"{prep.stream_url} failed")


class WrongName(PeerTLS):

    def src_security(self):
        return security(self.ca.cert, self.src_cert,
                        "stream_peer_name = dst9.example\n")

    def test_wrong_server_name_fails_and_runs_on(self):
        jid, prep = self.migrate()
        self.assert_refused(jid, prep, "TLS handshake with "
                            f"{prep.stream_url} failed")
        self.assertIn("carry the name dst9.example", self.src.history(
            jid).error)


class ExpiredSource(PeerTLS):
    """The source shows a certificate of the CA that expired in 2020."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.old = cls.ca.issue("src-2020", peer=True, expired=True)

    def src_security(self):
        return security(self.ca.cert, self.old,
                        "stream_peer_name = localhost\n")

    def test_source_with_an_expired_certificate_fails_and_runs_on(self):
        jid, prep = self.migrate()
        self.assert_refused(jid, prep, "TLS handshake with "
                            f"{prep.stream_url} failed")


class ExpiredDestination(PeerTLS):
    """The destination shows a certificate of the CA that expired."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dst_cert = cls.ca.issue("dst-2020", peer=True, expired=True)

    def test_destination_with_an_expired_certificate_is_refused(self):
        jid, prep = self.migrate()
        self.assert_refused(jid, prep, "be valid now")
        if self.ENGINE == "openssl":    # mbedTLS does not say which side
            self.assertIn("this host refused the destination's "
                          "certificate", self.src.history(jid).error)


class PlainRefused(PeerTLS):
    def test_require_tls_refuses_a_plain_url(self):
        self.pair(VF)
        with self.assertRaises(Exception) as cm:
            self.src.client.start_migration(
                "sim0/vf1", self.src.regions(VF), "tcp://127.0.0.1:9",
                b"x" * 32, vm="vm1")
        self.assertIn("not tls+tcp://", str(cm.exception))
        self.assert_source_rolled_back(VF)


# The same cases on Debian libnng's own engine (mbedTLS 2.28).
for _case in (Migrates, URLHostName, NoCertificate, OtherCA, WrongName,
              ExpiredSource, ExpiredDestination):
    _name = _case.__name__ + "MbedTLS"
    globals()[_name] = type(_name, (_case,), {"ENGINE": "mbedtls"})
del _case, _name


if __name__ == "__main__":
    unittest.main(verbosity=2)
