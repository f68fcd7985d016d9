"""certs: throw-away TLS certificates for the tests, made with openssl at
test time (no key is ever committed).

    from certs import CA
    ca = CA(tmpdir, "test-ca")
    server = ca.issue("vmigd", server=True)      # .cert, .key (paths)
    host = ca.issue("host1", peer=True)          # serves and dials
    client = ca.issue("operator")
    old = ca.issue("operator-2019", expired=True)

EC P-256 keys (fast to make). A server (or peer) certificate names
localhost and 127.0.0.1 unless san= says otherwise; `expired=True` makes one valid only in 2020 (openssl ca with
explicit start and end dates, since `openssl x509 -days` cannot go back).
"""

import os
import shutil
import subprocess


def have_openssl():
    return shutil.which("openssl") is not None


def _run(*args, cwd=None):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {p.stderr}")
    return p.stdout


class Cert:
    def __init__(self, cert, key):
        self.cert = cert
        self.key = key


class CA:
    """A CA in its own directory, able to issue certificates."""

    def __init__(self, parent, name):
        self.dir = os.path.join(parent, name)
        os.makedirs(os.path.join(self.dir, "new"), exist_ok=True)
        self.name = name
        self.key = os.path.join(self.dir, "ca.key")
        self.cert = os.path.join(self.dir, "ca.pem")
        _run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
             self.key)
        _run("req", "-x509", "-new", "-key", self.key, "-sha256", "-days",
             "2", "-subj", f"/CN={name}", "-out", self.cert,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        self.conf = os.path.join(self.dir, "ca.cnf")
        with open(self.conf, "w") as f:
            f.write(f"""[ca]
default_ca = this
[this]
dir = {self.dir}
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir/new
certificate = {self.cert}
private_key = {self.key}
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
[anything]
commonName = supplied
""")

    def issue(self, cn, server=False, expired=False, peer=False,
              san="DNS:localhost,IP:127.0.0.1"):
        base = os.path.join(self.dir, cn)
        key, csr, cert = base + ".key", base + ".csr", base + ".pem"
        _run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
             key)
        os.chmod(key, 0o600)
        # a peer (a vmigd host on the migration link) serves and dials
        usage = ("serverAuth,clientAuth" if peer else
                 "serverAuth" if server else "clientAuth")
        ext = (["-addext", f"subjectAltName={san}"]
               if server or peer else []) + \
            ["-addext", f"extendedKeyUsage={usage}"]
        _run("req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", csr,
             *ext)
        dates = (["-startdate", "20200101000000Z", "-enddate",
                  "20200102000000Z"] if expired else ["-days", "2"])
        _run("ca", "-batch", "-config", self.conf, "-notext", "-in", csr,
             "-out", cert, *dates)
        return Cert(cert, key)
