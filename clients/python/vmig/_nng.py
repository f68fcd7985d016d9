"""Just enough of nng (libnng.so.1, through ctypes) for the vmig client.

Debian has no Python binding for nng (no pynng), so this calls the C
library directly. Sockets are passed by value (a struct of one uint32), and
every function gets argtypes/restype so ctypes converts nothing by guess.
ctypes releases the GIL during calls: one socket per thread works.
"""

import ctypes
import ctypes.util

NNG_FLAG_ALLOC = 1
NNG_FLAG_NONBLOCK = 2
NNG_DURATION_INFINITE = -1

# nng_errno_enum (nng.h)
NNG_EINTR = 1
NNG_ENOMEM = 2
NNG_EINVAL = 3
NNG_EBUSY = 4
NNG_ETIMEDOUT = 5
NNG_ECONNREFUSED = 6
NNG_ECLOSED = 7
NNG_EAGAIN = 8
NNG_ENOTSUP = 9
NNG_EADDRINUSE = 10
NNG_ESTATE = 11
NNG_ENOENT = 12
NNG_EPROTO = 13
NNG_EUNREACHABLE = 14
NNG_EADDRINVAL = 15
NNG_EPERM = 16
NNG_EMSGSIZE = 17
NNG_ECONNABORTED = 18
NNG_ECONNRESET = 19
NNG_ECANCELED = 20
NNG_ECRYPTO = 26
NNG_EPEERAUTH = 27
NNG_ECONNSHUT = 31

NNG_TLS_MODE_CLIENT = 0
OPT_TLS_CONFIG = b"tls-config"

OPT_RECVTIMEO = b"recv-timeout"
OPT_SENDTIMEO = b"send-timeout"
OPT_RECVMAXSZ = b"recv-size-max"
OPT_REQ_RESENDTIME = b"req:resend-time"
OPT_SUB_SUBSCRIBE = b"sub:subscribe"
OPT_TCP_BOUND_PORT = b"tcp-bound-port"
OPT_RECONNMINT = b"reconnect-time-min"
OPT_RECONNMAXT = b"reconnect-time-max"


class nng_socket(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]


class nng_listener(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]


class nng_dialer(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]


class NngError(Exception):
    """An nng call failed: errno is nng's error number."""

    def __init__(self, errno, what):
        self.errno = errno
        self.what = what
        super().__init__(f"{what}: {strerror(errno)}")


_lib = None


def lib():
    global _lib
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("nng") or "libnng.so.1"
    try:
        l = ctypes.CDLL(name)
    except OSError as e:
        raise ImportError(f"cannot load nng ({name}): {e} "
                          "(Debian: apt-get install libnng1)") from e
    S, P, c_int, c_size = nng_socket, ctypes.POINTER, ctypes.c_int, \
        ctypes.c_size_t
    sig = {
        "nng_req0_open": ([P(S)], c_int),
        "nng_sub0_open": ([P(S)], c_int),
        "nng_pair1_open": ([P(S)], c_int),
        "nng_close": ([S], c_int),
        "nng_dial": ([S, ctypes.c_char_p, ctypes.c_void_p, c_int], c_int),
        "nng_listen": ([S, ctypes.c_char_p, P(nng_listener), c_int],
                       c_int),
        "nng_listener_get_int": ([nng_listener, ctypes.c_char_p,
                                  P(c_int)], c_int),
        "nng_send": ([S, ctypes.c_void_p, c_size, c_int], c_int),
        "nng_recv": ([S, ctypes.c_void_p, P(c_size), c_int], c_int),
        "nng_free": ([ctypes.c_void_p, c_size], None),
        "nng_socket_set": ([S, ctypes.c_char_p, ctypes.c_void_p, c_size],
                           c_int),
        "nng_socket_set_ms": ([S, ctypes.c_char_p, ctypes.c_int32], c_int),
        "nng_socket_set_size": ([S, ctypes.c_char_p, c_size], c_int),
        "nng_dialer_create": ([P(nng_dialer), S, ctypes.c_char_p], c_int),
        "nng_dialer_set_ptr": ([nng_dialer, ctypes.c_char_p,
                                ctypes.c_void_p], c_int),
        "nng_dialer_start": ([nng_dialer, c_int], c_int),
        "nng_tls_config_alloc": ([P(ctypes.c_void_p), c_int], c_int),
        "nng_tls_config_free": ([ctypes.c_void_p], None),
        "nng_tls_config_ca_file": ([ctypes.c_void_p, ctypes.c_char_p],
                                   c_int),
        "nng_tls_config_own_cert": ([ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.c_char_p, ctypes.c_char_p],
                                    c_int),
        "nng_tls_config_server_name": ([ctypes.c_void_p, ctypes.c_char_p],
                                       c_int),
        "nng_strerror": ([c_int], ctypes.c_char_p),
        "nng_version": ([], ctypes.c_char_p),
    }
    for fn, (args, res) in sig.items():
        f = getattr(l, fn)
        f.argtypes = args
        f.restype = res
    _lib = l
    return l


def strerror(errno):
    return lib().nng_strerror(errno).decode("utf-8", "replace")


def version():
    return lib().nng_version().decode()


class Socket:
    """One nng socket: open, set options, dial, send and receive bytes."""

    def __init__(self, protocol):
        self._s = nng_socket()
        opener = {"req": lib().nng_req0_open, "sub": lib().nng_sub0_open,
                  "pair1": lib().nng_pair1_open}
        self._check(opener[protocol](ctypes.byref(self._s)),
                    f"nng_{protocol}0_open")
        self._open = True

    def _check(self, rv, what):
        if rv != 0:
            raise NngError(rv, what)

    def set_ms(self, name, ms):
        self._check(lib().nng_socket_set_ms(self._s, name, int(ms)),
                    name.decode())

    def set_size(self, name, size):
        self._check(lib().nng_socket_set_size(self._s, name, int(size)),
                    name.decode())

    def subscribe(self, prefix=b""):
        buf = ctypes.create_string_buffer(prefix, len(prefix))
        self._check(lib().nng_socket_set(self._s, OPT_SUB_SUBSCRIBE, buf,
                                         len(prefix)), "subscribe")

    def dial(self, url, block=True):
        """Connect to url. With block (the default) now, synchronously: a
        peer that is down fails here. Without, nng connects (and
        reconnects) in the background and sends wait for the pipe."""
        flags = 0 if block else NNG_FLAG_NONBLOCK
        self._check(lib().nng_dial(self._s, url.encode(), None, flags),
                    f"dial {url}")

    def dial_tls(self, url, ca_file=None, cert_file=None, key_file=None,
                 server_name=None):
        """Connect to a tls+tcp:// url now, verifying the peer against
        ca_file and proving ourselves with cert_file/key_file (PEM; the
        key may be in cert_file)."""
        d = nng_dialer()
        cfg = ctypes.c_void_p()
        self._check(lib().nng_dialer_create(ctypes.byref(d), self._s,
                                            url.encode()), f"dial {url}")
        self._check(lib().nng_tls_config_alloc(ctypes.byref(cfg),
                                               NNG_TLS_MODE_CLIENT),
                    "TLS configuration")
        try:
            if ca_file:
                self._check(lib().nng_tls_config_ca_file(
                    cfg, ca_file.encode()), f"TLS CA file {ca_file}")
            if cert_file:
                with open(cert_file, "rb") as f:
                    cert = f.read()
                with open(key_file or cert_file, "rb") as f:
                    key = f.read()
                self._check(lib().nng_tls_config_own_cert(cfg, cert, key,
                                                          None),
                            f"TLS certificate {cert_file}")
            if server_name:
                self._check(lib().nng_tls_config_server_name(
                    cfg, server_name.encode()), "TLS server name")
            self._check(lib().nng_dialer_set_ptr(d, OPT_TLS_CONFIG, cfg),
                        "TLS configuration")
        finally:
            lib().nng_tls_config_free(cfg)  # the dialer holds it
        self._check(lib().nng_dialer_start(d, 0), f"dial {url}")

    def listen(self, url):
        """Listen on url; returns the URL bound. For tcp:// with port 0
        the port the system chose is filled in."""
        lst = nng_listener()
        self._check(lib().nng_listen(self._s, url.encode(),
                                     ctypes.byref(lst), 0), f"listen {url}")
        if url.startswith("tcp") and url.endswith(":0"):
            port = ctypes.c_int()
            self._check(lib().nng_listener_get_int(
                lst, OPT_TCP_BOUND_PORT, ctypes.byref(port)),
                f"listen {url}: bound port")
            url = url[:-1] + str(port.value)
        return url

    def send(self, data, timeout_ms=None):
        """Send bytes; with timeout_ms, give up (NNG_ETIMEDOUT) when no
        peer takes them in time (sets the socket's send timeout)."""
        data = bytes(data)
        if timeout_ms is not None:
            self.set_ms(OPT_SENDTIMEO, timeout_ms)
        self._check(lib().nng_send(self._s, data, len(data), 0), "send")

    def recv(self, timeout_ms=None):
        """One message's bytes; with timeout_ms, raise NngError with
        NNG_ETIMEDOUT when none comes in time (sets the socket's receive
        timeout)."""
        if timeout_ms is not None:
            self.set_ms(OPT_RECVTIMEO, timeout_ms)
        buf = ctypes.c_void_p()
        n = ctypes.c_size_t()
        self._check(lib().nng_recv(self._s, ctypes.byref(buf),
                                   ctypes.byref(n), NNG_FLAG_ALLOC), "recv")
        try:
            return ctypes.string_at(buf, n.value)
        finally:
            lib().nng_free(buf, n.value)

    def close(self):
        if self._open:
            self._open = False
            lib().nng_close(self._s)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
