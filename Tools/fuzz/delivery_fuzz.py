#!/usr/bin/python3
"""Structure-aware fuzz campaign for sls-report-delivery: bus methods, StatementIssued events, SFTP.

delivery_fuzz.py BIN_DIR [--requests N] [--sftp-connections M] [--seed S] [--check-every K] [--keep]

Runs sls-event-bus and sls-report-delivery with their own CurveZMQ keyring and compose/bus-policy.yaml on
loopback, sets up a guard user "guard" (SSH key, address, PGP key, a statement) that no input names, then
sends mutated requests for every ReportDelivery method (64 in flight, as the identities the policy allows),
mutated StatementIssued events as `reporting`, mutated SFTP v3 streams through OpenSSH as a fuzz user and
raw TCP garbage. Every K inputs: processes alive, guard unchanged and answered within 5 s, `sftp -b` as guard
lists its folder, no traversal target outside the fuzz user's folder, RSS. At the end each fuzz user's folder
must agree with its ListStatements. Prints `FUZZ <figure> <value>`; exits 1 on a crash, hang, state change
or escape. Needs /usr/bin/python3 (python3-zmq, python3-protobuf), protoc, OpenSSH and GnuPG.
"""
import argparse, base64, collections, importlib, os, random, re, shutil, signal, socket, struct
import subprocess, sys, tempfile, threading, time, traceback
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTOS, POLICY = os.path.join(ROOT, "protos"), os.path.join(ROOT, "compose", "bus-policy.yaml")
SVC = "sls.delivery.v1.ReportDelivery/"
METHODS = ["GetInfo", "CreateUser", "AddPublicKey", "RemovePublicKey", "SetAddresses", "SetPgpKey", "GetAccess",
           "SetPreferences", "ListMessages", "DeliverStatement", "ListStatements"]
IDENTITIES = ["event-bus", "report-delivery", "operations", "portal", "reporting", "accounts"]
CALLERS = ["operations", "portal", "reporting"]
GUARD, SFTP_USER, POOL = "guard", "fzsftp", ["fz-r%d" % i for i in range(8)]
U64 = (1 << 64) - 1
SSH_OPTS = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "IdentitiesOnly=yes",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]
FAILING = ("crashes", "hangs", "state_changes", "escapes", "fuzzer_errors", "inconsistencies", "key_armor_echoes",
           "internal_errors", "secret_echoes", "policy_leaks")


def run(cmd, env=None, timeout=120):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout, check=True).stdout


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    ports = [s.bind(("127.0.0.1", 0)) or s.getsockname()[1] for s in socks]
    return [s.close() or p for s, p in zip(socks, ports)]


def read_key_file(path):
    """`name = value` lines of a slsctl key file; Z85 keys may hold '=', so split at the first one."""
    pairs = [line.strip().partition("=") for line in open(path, encoding="utf-8")]
    return {k.strip(): v.strip() for k, _, v in pairs if k and not k.startswith("#")}


def policy_callers(path):
    """ReportDelivery method -> identities, from the policy's `methods:` lines (no YAML module)."""
    lines = re.findall(r"^\s+(sls\.delivery\.v1\.ReportDelivery/\w+):\s*\[([^\]]*)\]", open(path).read(), re.M)
    return {m: [i.strip().strip('"') for i in ids.split(",") if i.strip()] for m, ids in lines}


def rss_mb(pid):
    try:
        return next(int(l.split()[1]) for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS:")) / 1024.0
    except (OSError, ValueError, StopIteration):
        return 0.0


# ---- protobuf wire codec: enough to take seeds apart and put hostile fields in ------------------

def varint(n):
    n &= U64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def read_varint(d, i):   # IndexError when cut short
    r, shift = 0, 0
    while d[i] & 0x80:
        r, shift, i = r | (d[i] & 0x7F) << shift, shift + 7, i + 1
    return r | d[i] << shift, i + 1


def encode(fields):
    out = []
    for num, wt, val in fields:
        out.append(varint((num << 3) | wt))
        out += [varint(val)] if wt == 0 else [varint(len(val)), val] if wt == 2 else [val or b""]
    return b"".join(out)


def parse(d):
    fields, i = [], 0
    while i < len(d):
        key, i = read_varint(d, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = read_varint(d, i)
        else:
            n, i = read_varint(d, i) if wt == 2 else ({1: 8, 5: 4}.get(wt, 0), i)
            val, i = bytes(d[i:i + n]), i + n
        fields.append((num, wt, val))
    return fields


def sstr(b):   # an SFTP string; a packet is sstr(type, id, body)
    return struct.pack(">I", len(b)) + b


def sftp_packet(t, rid, body):
    return sstr(bytes([t & 0xFF]) + struct.pack(">I", rid) + body)


class Mutator:
    """Hostile values chosen by field name and type, wire-level tricks, and SFTP packet streams."""

    def __init__(self, rng, token, m, FD):
        self.rng, self.t, self.m, self.FD = rng, token, m, FD
        t = token
        self.paths_w = [x.encode() for x in (   # written, created, removed or renamed: always named after the token
            "../../../../../../tmp/%s" % t, "/tmp/%s" % t, "/etc/%s" % t, "../%s" % t, "..//..//./%s" % t, t, "./%s" % t,
            "../../../../../../etc/%s.d/x" % t, "%s/../../../%s" % (t, t), "..\\..\\%s" % t, "%%2e%%2e%%2f%s" % t,
            "../%s/%s" % (POOL[0], t), "/../../../../../../root/%s" % t, t + "-d/" + t, t + ".gpg",
            "../../sftp/users/%s/%s" % (POOL[1], t), "../../../../../../%s/%s" % (m["outside"].strip("/"), t))]
        self.paths_w += [t.encode() + b"-\x00/../../x", t.encode() + b"\xff\xfe", t.encode() + b"-" + b"A" * 300,
                         (t + "/").encode() * 120]
        self.paths_r = [x.encode() for x in (   # only opened for reading, listed or stat'ed
            "../../../../../../etc/passwd", "/etc/passwd", "..", "/", ".", "", "../../../../../../etc", "/proc/self/environ",
            "../../../../../../proc/self/cmdline", m["secret_path"], "../../../../../../.." + m["secret_path"],
            "../" + POOL[0], "../../users", "/../../..")]
        key = m["private"]
        self.strings = [b"", b"A" * 65, b"B" * 129, b"C" * 4097, b"D" * 70000, b"fz\x01\x07\x1b[31m\r\n\t", b"fz\x00x",
                        b"\x00", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"fz\x7f", "\u202efz\u200b".encode(),
                        "ｆｚ😀".encode(), b"%s%n%x", b"'; DROP TABLE users;--", b"x' OR '1'='1", key, key.replace(b"\n", b" "),
                        b"-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----\n",
                        b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n", m["pgp_secret"]] + self.paths_w[:6]
        lang = [b"en", b"zh-Hant", b"pt", b"../en", b"xx", b"en\x00", b"EN"]
        self.by_name = {
            "user_name": [p.encode() for p in POOL] + [b"fz-r0\x00", b"FZ-R0", b".fz", b"-fz", b"fz/r0", b"..", b".",
                                                      b"a" * 64, b"a" * 65, b"fz-r0 ", b"fz-r0\n", b"root"],
            "addresses": [b"127.0.0.1", b"10.1.2.0/24", b"::1", b"0.0.0.0/0", b"::/0", b"127.0.0.1/8", b"1.2.3.4/33",
                          b"999.1.1.1", b"::ffff:127.0.0.1", b"fe80::1%eth0", b"10.0.0.0/-1", b"1.2.3.4/", b"/24",
                          b"2001:db8::/48", b"2001:db8::/47", b"1.2.3.4/16", b"01.02.03.04"],
            "public_key": [m["ssh_pub"], m["rsa_pub"], m["ecdsa_pub"], m["pgp_pub"], m["ssh_pub"][:40],
                           m["ssh_pub"].replace(b"AAAA", b"AAAB", 1), b"ssh-rsa " + base64.b64encode(b"\0\0\0\x07ssh-rsa" + b"\xff" * 300),
                           b"---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"" + b"x" * 5000 + b"\"\n---- END SSH2 PUBLIC KEY ----\n",
                           b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + b"QUFB" * 2000 + b"\n-----END PGP PUBLIC KEY BLOCK-----\n",
                           m["ssh_pub"] * 50, m["dsa_pub"], m["rsa1024_pub"], key, m["pgp_secret"],
                           m["pgp_secret"].replace(b"PRIVATE", b"PUBLIC")],
            "fingerprint": [m["fingerprint"], b"SHA256:", b"SHA256:" + b"A" * 200, b"MD5:00:11", b"%"],
            "primary_language": lang, "secondary_language": lang,
            "period": [b"2026-10", b"2026-Q3", b"-", b"9" * 33, b"2026-10-31/../x"],
            "name": [b"activity-2026-10.txt", b"a b", b" a", b"a ", b".hidden", b"a" * 121, b"../x", b"x/y", b"x.gpg"],
            "statement_id": [b"fz-1", b"fz 1", b"a" * 129, b"\x7f", b"fz-%d" % rng.randrange(1 << 30)]}

    def content(self):
        r = self.rng
        return r.choice([lambda: b"", lambda: b"statement\n", lambda: os.urandom(r.randrange(1, 4096)),
                         lambda: base64.b64encode(os.urandom(r.choice([1000, 700000]))), lambda: b"Q" * (1024 * 1024 - 200),
                         lambda: b"R" * (1024 * 1024 + 64), lambda: self.m["private"], lambda: b"\x00" * 5000])()

    def value(self, f):
        r, FD = self.rng, self.FD
        if f.type == FD.TYPE_STRING:
            return 2, r.choice(self.by_name[f.name] if f.name in self.by_name and r.random() < 0.6 else self.strings)
        if f.type == FD.TYPE_BYTES:
            return 2, self.content()
        if f.type == FD.TYPE_MESSAGE:
            return 2, r.choice([b"", os.urandom(r.randrange(1, 64)), b"\x0a\xff\xff\xff\xff\x0f"])
        nums = [0, 1, 2, 3, -1, 200, 201, 1000, (1 << 31) - 1, -(1 << 31), (1 << 63) - 1, -(1 << 63), U64]
        if f.type == FD.TYPE_ENUM and f.label == FD.LABEL_REPEATED and r.random() < 0.5:   # packed
            return 2, b"".join(varint(r.choice(nums)) for _ in range(r.choice([1, 3, 1001, 5000])))
        return 0, r.choice(nums)

    def mutate(self, data, desc, depth=0):
        r, FD = self.rng, self.FD
        try:
            fields = parse(data)
        except IndexError:          # an earlier mutation left it malformed: flip a byte instead
            return data[:-1] + bytes([data[-1] ^ 0x41]) if data else b"\x08"
        fdescs = list(desc.fields)
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            op = r.choice(["value", "value", "value", "many", "nested", "unknown", "wrongwt", "dup", "drop", "shuffle"])
            f = r.choice(fdescs) if fdescs else None
            if op in ("value", "many") and f is not None:
                if op == "many" or r.random() < 0.7:
                    fields = [x for x in fields if x[0] != f.number]
                count = 1 if op == "value" else 3 if f.type == FD.TYPE_BYTES else r.choice([2, 101, 1001, 3000])
                same, (wt, val) = r.random() < 0.5, self.value(f)
                if wt == 2 and count * len(val) > (3 << 20):   # over 16 MiB libzmq drops the connection unanswered
                    count = max(2, (3 << 20) // len(val))
                for _ in range(count):
                    fields.append((f.number, wt, val))
                    if not same:
                        wt, val = self.value(f)
            elif op == "nested" and depth < 2:
                for sub in [x for x in fdescs if x.type == FD.TYPE_MESSAGE][:1]:
                    fields = [(n, w, self.mutate(v, sub.message_type, depth + 1) if n == sub.number and w == 2 else v)
                              for n, w, v in fields]
            elif op in ("unknown", "wrongwt") and (f is not None or op == "unknown"):
                num = r.choice([6, 9, 15, 16, 100, 2047, 19000, (1 << 29) - 1]) if op == "unknown" else f.number
                wt = r.choice([0, 1, 2, 5] if op == "unknown" else range(8))
                fields.append((num, wt, {0: r.getrandbits(64), 1: os.urandom(8), 2: os.urandom(r.randrange(200)),
                                         5: os.urandom(4)}.get(wt, b"")))
            elif op == "dup" and fields:
                fields.append(r.choice(fields))
            elif op == "drop" and fields:
                fields.pop(r.randrange(len(fields)))
            elif op == "shuffle":
                r.shuffle(fields)
        out = encode(fields)
        if depth or r.random() > 0.15 or not out:
            return out
        i = r.randrange(len(out))
        return r.choice([lambda: out[:i], lambda: out[:i] + bytes([out[i] ^ (1 << r.randrange(8))]) + out[i + 1:],
                         lambda: out[:i] + os.urandom(r.randrange(1, 16)) + out[i:], lambda: os.urandom(r.randrange(512)),
                         lambda: out + b"\x80" * r.randrange(1, 12),   # a varint that never ends; a length that lies:
                         lambda: varint((r.randrange(1, 20) << 3) | 2) + varint(r.choice([len(out) + 5, 1 << 31, U64])) + out])()

    def sftp_stream(self):
        """INIT, then 1-25 mutated SFTP v3 requests; handles are guessed (the server numbers them from 1)."""
        r = self.rng
        handle = lambda: r.choice([sstr(struct.pack(">I", r.randrange(1, 7)))] * 4 + [
            sstr(b""), sstr(b"\0" * 9), sstr(b"\xff" * 4), sstr(b"\0" * 4)])
        off = lambda: struct.pack(">Q", r.choice([0, 1, 4096, 1 << 30, 1 << 40, (1 << 63) - 1, 1 << 63, U64, U64 - 1, (1 << 63) - 5]))
        pw, pr = lambda: sstr(r.choice(self.paths_w)), lambda: sstr(r.choice(self.paths_r + self.paths_w))
        def attrs():
            return r.choice([struct.pack(">I", 0)] * 3 + [struct.pack(">IQI", 0x5, U64, 0o4777), struct.pack(">I", r.getrandbits(32)),
                             struct.pack(">II", 0x80000000, r.choice([65, 0xFFFFFFFF, 2])) + sstr(b"a") + sstr(b"b")])
        bodies = {
            3: lambda: pr() + struct.pack(">I", 1) + attrs() if r.random() < 0.5 else
            pw() + struct.pack(">I", r.choice([0x1a, 0x0a, 0x3a, 0x12, 0x06, 0x2e, 0xFFFFFFFF])) + attrs(),
            5: lambda: handle() + off() + struct.pack(">I", r.choice([0, 1, 32768, 262144, 262145, 0xFFFFFFFF])),
            6: lambda: handle() + off() + sstr(os.urandom(r.choice([0, 1, 100, 65536, 200000]))),
            4: handle, 8: handle, 12: handle, 13: pw, 15: pw, 19: pr,
            7: lambda: r.choice([pr(), sstr(b"x" * 1025), sstr((b"y" * 256 + b"/") * 3), sstr(b"\xff" * 300)]),
            9: lambda: pw() + attrs(), 14: lambda: pw() + attrs(), 18: lambda: pw() + pw(), 20: lambda: pw() + sstr(b"/etc/passwd"),
            200: lambda: r.choice([sstr(b"posix-rename@openssh.com") + pw() + pw(), sstr(b"statvfs@openssh.com") + pr(),
                                   sstr(b"hardlink@openssh.com") + sstr(b"/etc/passwd") + pw(), sstr(b"x" * 70000),
                                   sstr(b"posix-rename@openssh.com")])}
        for t in (11, 16, 17):
            bodies[t] = bodies[7]
        out = [struct.pack(">IBI", 5, 1, 3)]
        if r.random() < 0.5:   # a file to read back: OPEN(read|write|create) gets handle 1, then WRITE
            out += [sftp_packet(3, 1, sstr(("%s-f%d" % (self.t, r.randrange(4))).encode()) + struct.pack(">II", 0x1b, 0)),
                    sftp_packet(6, 2, sstr(struct.pack(">I", 1)) + struct.pack(">Q", 0) + sstr(b"hello"))]
        for i in range(r.randrange(1, 25)):
            t = r.choice(list(bodies)) if r.random() > 0.05 else r.choice([0, 1, 2, 10, 101, 102, 255])
            out.append(sftp_packet(t, r.choice([i + 10, 0, 0xFFFFFFFF]), bodies[t]() if t in bodies else os.urandom(r.randrange(64))))
        k = r.randrange(10)
        if k == 0:   # a length that lies or is too large (over 256 KiB ends the session)
            out[-1] = struct.pack(">I", r.choice([0, 262144 + 1025, 0x7FFFFFFF, 0xFFFFFFFF])) + out[-1][4:]
        elif k == 1:
            out[-1] = out[-1][:r.randrange(1, len(out[-1]))]
        elif k == 2:
            out.append(os.urandom(r.randrange(1, 300)))
        return b"".join(out)


# ---- the campaign ------------------------------------------------------------------------------

class Campaign:
    def __init__(self, args):
        self.a, self.bin = args, os.path.abspath(args.bin_dir)
        self.work = tempfile.mkdtemp(prefix="delivery-fuzz-")
        self.data = os.path.join(self.work, "data")
        self.token = "fzesc%08x" % random.Random(args.seed).getrandbits(32)
        self.procs, self.logs, self.c, self.findings = {}, {}, collections.Counter(), []
        self.lock, self.stop, self.rss, self.recent = threading.Lock(), threading.Event(), [], collections.deque(maxlen=300)

    def finding(self, kind, detail):
        with self.lock:
            self.c[kind] += 1
            if sum(1 for f in self.findings if f[0] == kind) < 20:
                self.findings.append((kind, detail))

    def prepare(self):
        out = os.path.join(self.work, "py")
        os.makedirs(out)
        run(["protoc", "-I", PROTOS, "--python_out", out] + ["sls/%s.proto" % p for p in (
            "rpc/v1/envelope", "health/v1/health", "events/v1/event", "accounts/v1/accounts", "delivery/v1/delivery")])
        sys.path.insert(0, out)
        imp = importlib.import_module
        self.env_pb, self.health, self.ev = imp("sls.rpc.v1.envelope_pb2"), imp("sls.health.v1.health_pb2"), imp("sls.events.v1.event_pb2")
        self.acc, self.dl = imp("sls.accounts.v1.accounts_pb2"), imp("sls.delivery.v1.delivery_pb2")
        from google.protobuf.descriptor import FieldDescriptor
        self.FD = FieldDescriptor
        kr = os.path.join(self.work, "keyring")
        run([os.path.join(self.bin, "slsctl"), "keys", "create", "--keyring", kr] + IDENTITIES)
        self.pubdir, self.keyfile = os.path.join(kr, "public"), lambda i: os.path.join(kr, "secret", i + ".key")
        self.pub = {i: read_key_file(os.path.join(self.pubdir, i + ".pub"))["public-key"].encode() for i in IDENTITIES}
        self.sec = {i: read_key_file(self.keyfile(i))["secret-key"].encode() for i in IDENTITIES}
        self.callers = policy_callers(POLICY)
        k = self.keys_dir = os.path.join(self.work, "keys")
        os.makedirs(k, mode=0o700)
        for name, spec in (("guard", "ed25519"), ("sftp", "ed25519"), ("seed", "ed25519"), ("rsa", "rsa -b 2048"),
                           ("ecdsa", "ecdsa"), ("rsa1024", "rsa -b 1024")):
            run(["ssh-keygen", "-q", "-N", "", "-C", name + "-key", "-f", os.path.join(k, name), "-t"] + spec.split())
        rd = lambda n: open(os.path.join(k, n), "rb").read()
        gh = os.path.join(self.work, "gnupg")
        os.makedirs(gh, mode=0o700)
        genv, gpg = dict(os.environ, GNUPGHOME=gh), ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
        for uid in ("Guard <guard@example.com>", "Seed <seed@example.com>"):
            run(gpg + ["--quick-gen-key", uid, "future-default", "default", "never"], env=genv)
        outside = os.path.join(self.work, "outside")
        os.makedirs(outside)
        secret_path = os.path.join(outside, "secret.txt")
        self.outside_marker = b"FZ-OUTSIDE-SECRET-" + self.token.encode()
        open(secret_path, "wb").write(self.outside_marker + b"\n")
        private = rd("seed")
        self.secret_marker = private.splitlines()[3][:40]     # key-specific (lines 1-2 start alike in every key)
        self.material = dict(private=private, ssh_pub=rd("seed.pub").strip(), rsa_pub=rd("rsa.pub").strip(),
                             ecdsa_pub=rd("ecdsa.pub").strip(), rsa1024_pub=rd("rsa1024.pub").strip(),
                             dsa_pub=b"ssh-dss AAAAB3NzaC1kc3MAAACBAP" + b"A" * 200 + b" dsa-key",
                             fingerprint=run(["ssh-keygen", "-lf", os.path.join(k, "seed.pub")]).split()[1],
                             pgp_pub=run(gpg + ["--export", "--armor", "seed@example.com"], env=genv),
                             pgp_secret=run(gpg + ["--export-secret-keys", "--armor", "seed@example.com"], env=genv),
                             outside=outside, secret_path=secret_path)
        self.guard_pgp = run(gpg + ["--export", "--armor", "guard@example.com"], env=genv).decode()

    def start(self):
        p = free_ports(5)
        self.ep = {n: "tcp://127.0.0.1:%d" % x for n, x in zip(("bus", "xsub", "xpub", "delivery"), p)}
        self.sftp_port = p[4]
        env = dict(os.environ, SLS_EVENTS_PUBLISH=self.ep["xsub"], SLS_EVENTS_SUBSCRIBE=self.ep["xpub"],
                   SLS_PUBLIC_KEYS=self.pubdir, SLS_POLICY=POLICY, SWIFT_BACKTRACE="enable=yes,interactive=no")
        env.pop("SLS_INSECURE", None)
        for name, ident, extra in (("sls-event-bus", "event-bus", ["--listen", self.ep["bus"]]),
                                   ("sls-report-delivery", "report-delivery",
                                    ["--listen", self.ep["delivery"], "--data-dir", self.data, "--sftp-host", "127.0.0.1",
                                     "--sftp-port", str(self.sftp_port)])):
            self.logs[name] = os.path.join(self.work, name + ".log")
            with open(self.logs[name], "wb") as f:
                self.procs[name] = subprocess.Popen([os.path.join(self.bin, name)] + extra, stdout=f, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL, env=dict(env, SLS_KEY_FILE=self.keyfile(ident)))
        self.ctx = zmq.Context()
        self.socks = {i: self.dealer(i) for i in CALLERS}
        self.pub_accounts = self.publisher("accounts")
        self.seq = collections.Counter()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.alive():
            if self.call("sls.health.v1.Health/Check", self.health.HealthCheckRequest(), timeout=0.5)[0] == 0:
                return
            time.sleep(0.2)
        raise SystemExit("the service did not come up; see %s" % self.logs["sls-report-delivery"])

    def socket(self, kind, ident, server, endpoint):
        """A CurveZMQ client socket of `server` as `ident`."""
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVHWM if kind == zmq.DEALER else zmq.SNDHWM, 100000)
        s.curve_serverkey, s.curve_publickey, s.curve_secretkey = self.pub[server], self.pub[ident], self.sec[ident]
        s.connect(self.ep[endpoint])
        return s

    def dealer(self, ident):
        return self.socket(zmq.DEALER, ident, "report-delivery", "delivery")

    def publisher(self, ident):
        return self.socket(zmq.PUB, ident, "event-bus", "xsub")

    def call(self, method, msg, ident="operations", timeout=5.0):
        """(code, status message, payload) on the main thread's sockets; code None on timeout."""
        s, rid = self.socks[ident], random.getrandbits(63)
        hdr = self.env_pb.RequestHeader(method=method, request_id=rid, trace_id="fz-check", caller="fuzz-check")
        s.send_multipart([hdr.SerializeToString(), msg.SerializeToString()])
        end = time.monotonic() + timeout
        while s.poll(max(1, int((end - time.monotonic()) * 1000))):
            frames = s.recv_multipart()
            rh = self.env_pb.ReplyHeader.FromString(frames[0])
            if rh.request_id == rid:
                return rh.status.code, rh.status.message, frames[1] if len(frames) > 1 else b""
            if time.monotonic() >= end:
                break
        return None, "timeout", b""

    def alive(self):
        return all(p.poll() is None for p in self.procs.values())

    def ok(self, method, msg, ident="operations"):
        code, text, payload = self.call(SVC + method, msg, ident, timeout=30)
        if code != 0:
            raise SystemExit("set-up %s failed: %s %s" % (method, code, text))
        return payload

    def setup(self):
        users, d = [GUARD, SFTP_USER] + POOL, self.dl
        pending, deadline = set(users), time.monotonic() + 30
        while pending and time.monotonic() < deadline:      # ACC-05: the account service announces them first
            for i, u in enumerate(users):
                self.seq["accounts"] += 1
                n = self.seq["accounts"]
                hdr = self.ev.EventHeader(event_id="accounts/%d" % n, producer="accounts", sequence=n, producer_instance="fz-setup",
                                          time_unix_ms=int(time.time() * 1000), type="sls.accounts.v1.AccountOpened")
                msg = self.acc.AccountOpened(account_id="U9%06d" % i, user_name=u, opened_unix_ms=int(time.time() * 1000))
                self.pub_accounts.send_multipart([b"sls.accounts.v1.AccountOpened", hdr.SerializeToString(), msg.SerializeToString()])
            time.sleep(0.3)
            pending = {u for u in pending if self.call(SVC + "CreateUser", d.CreateUserRequest(user_name=u))[0] != 0}
        if pending:
            raise SystemExit("CreateUser never succeeded for %s" % sorted(pending))
        for user, key in ((GUARD, "guard.pub"), (SFTP_USER, "sftp.pub")):
            self.ok("AddPublicKey", d.AddPublicKeyRequest(user_name=user, public_key=open(os.path.join(self.keys_dir, key)).read().strip()))
            self.ok("SetAddresses", d.SetAddressesRequest(user_name=user, addresses=["127.0.0.1"]))
        self.ok("SetPgpKey", d.SetPgpKeyRequest(user_name=GUARD, public_key=self.guard_pgp))
        for u in POOL[3:6:2]:
            self.ok("SetPgpKey", d.SetPgpKeyRequest(user_name=u, public_key=self.material["pgp_pub"].decode()))
        receipt = d.DeliveryReceipt.FromString(self.ok("DeliverStatement", d.Statement(
            statement_id="guard-2026-10", user_name=GUARD, name="activity-2026-10.txt", period="2026-10",
            content=b"Activity statement, October 2026\n"), "reporting"))
        if receipt.state != d.DELIVERED:
            raise SystemExit("guard statement not delivered: %s" % receipt)
        self.guard_access = self.ok("GetAccess", d.GetAccessRequest(user_name=GUARD))
        self.guard_statements = self.ok("ListStatements", d.ListStatementsRequest(user_name=GUARD))
        self.guard_files = sorted(os.listdir(os.path.join(self.data, "sftp", "users", GUARD)))
        self.guard_listing = self.sftp_listing()
        if not self.guard_listing or "activity-2026-10.txt.gpg" not in self.guard_listing:
            raise SystemExit("sftp as guard did not list its statement: %r" % (self.guard_listing,))
        self.etc_stat = {p: (os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in ("/etc/passwd", "/etc/hosts")}
        m = self.material
        self.seeds = {
            "GetInfo": self.health.ServiceInfoRequest(), "CreateUser": d.CreateUserRequest(user_name=POOL[0]),
            "AddPublicKey": d.AddPublicKeyRequest(user_name=POOL[1], public_key=m["ssh_pub"].decode()),
            "RemovePublicKey": d.RemovePublicKeyRequest(user_name=POOL[1], fingerprint=m["fingerprint"].decode()),
            "SetAddresses": d.SetAddressesRequest(user_name=POOL[2], addresses=["127.0.0.1", "10.1.2.0/24", "::1"]),
            "SetPgpKey": d.SetPgpKeyRequest(user_name=POOL[3], public_key=m["pgp_pub"].decode()),
            "GetAccess": d.GetAccessRequest(user_name=POOL[1]),
            "SetPreferences": d.Preferences(user_name=POOL[4], primary_language="en", secondary_language="zh-Hant",
                                            channels=[d.EMAIL, d.SMS]),
            "ListMessages": d.ListMessagesRequest(user_name=POOL[3], limit=10),
            "DeliverStatement": d.Statement(statement_id="fz-1", user_name=POOL[3], name="activity-2026-10.txt",
                                            period="2026-10", content=b"statement\n"),
            "ListStatements": d.ListStatementsRequest(user_name=POOL[3])}

    def sftp_listing(self):
        cmd = ["sftp", "-b", "-", "-P", str(self.sftp_port), "-i", os.path.join(self.keys_dir, "guard")] + SSH_OPTS + [GUARD + "@127.0.0.1"]
        try:
            p = subprocess.run(cmd, input=b"ls -1a\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        except subprocess.TimeoutExpired:
            return None
        lines = p.stdout.decode("utf-8", "replace").splitlines()
        return sorted(l for l in lines if l and not l.startswith("sftp>")) if p.returncode == 0 else None

    def guarded(self, worker):
        try:
            worker()
        except Exception:
            self.finding("fuzzer_errors", traceback.format_exc())

    def rpc_worker(self):
        """Requests (64 in flight, sliding) and StatementIssued events. A tracked call (a header the
        server can read) unanswered after 10 s is a finding; others may get no reply."""
        rng = random.Random(self.a.seed)
        mut = Mutator(rng, self.token, self.material, self.FD)
        socks, pubs = {i: self.dealer(i) for i in CALLERS}, self.publisher("reporting")
        time.sleep(0.3)
        seq = rid = 0
        pending, loose = {}, collections.deque()   # rid -> (input, sent at); send times of untracked calls
        issued = self.dl.StatementIssued(statement=self.seeds["DeliverStatement"])
        topic = issued.DESCRIPTOR.full_name

        def drain(wait):
            zmq.select(list(socks.values()), [], [], wait)
            for s in socks.values():
                while s.poll(0):
                    self.reply(s.recv_multipart(), pending, loose)
            now = time.monotonic()
            while loose and now - loose[0] > 1.0:
                loose.popleft()
            for k in [k for k, v in pending.items() if now - v[1] > 10]:
                self.finding("unanswered", pending.pop(k)[0])

        while self.c["requests"] + self.c["events"] < self.a.requests and not self.stop.is_set():
            if len(pending) + len(loose) >= 64:
                drain(0.02)
                continue
            if rid % 8 == 0:
                drain(0)
            if rng.random() < 0.1:   # a mutated StatementIssued event as `reporting`
                seq += 1
                payload = mut.mutate(issued.SerializeToString(), issued.DESCRIPTOR)
                hdr = self.ev.EventHeader(event_id="reporting/f%d" % seq, producer="reporting", sequence=seq, type=topic,
                                          time_unix_ms=int(time.time() * 1000), producer_instance="fz-%d" % self.a.seed)
                frames = [topic.encode(), hdr.SerializeToString(), payload]
                if rng.random() < 0.05:
                    frames[1] = mut.mutate(frames[1], self.ev.EventHeader.DESCRIPTOR)
                if b"guard" not in payload.lower():
                    pubs.send_multipart(frames)
                    self.recent.append(("event StatementIssued", frames))
                    self.c["events"] += 1
                continue
            if rng.random() < 0.005:   # twins at once: one statement_id for two users, or one name for two ids
                users, same_id = rng.choice([POOL[3:6:2], POOL[6:8]]), rng.random() < 0.5   # with / without PGP key
                for j in range(2):
                    rid += 1
                    st = self.dl.Statement(statement_id="twin-%d" % (rid - j if same_id else rid), user_name=users[j if same_id else 0],
                                           name="twin-%d.txt" % (rid - j), period="2026-10", content=b"twin %d\n" % j)
                    frames = [self.env_pb.RequestHeader(method=SVC + "DeliverStatement", request_id=rid).SerializeToString(),
                              st.SerializeToString()]
                    socks["reporting"].send_multipart(frames)
                    pending[rid] = (("DeliverStatement twin", "reporting", frames, False), time.monotonic())
                    self.recent.append(("DeliverStatement twin as reporting", frames))
                    self.c["requests"] += 1
                continue
            m = rng.choice(METHODS)
            allowed = self.callers.get(SVC + m, ["operations"])
            ident = rng.choice(allowed) if rng.random() > 0.03 else rng.choice(CALLERS)
            seed = self.seeds[m].SerializeToString()
            payload = mut.mutate(seed, self.seeds[m].DESCRIPTOR) if rng.random() < 0.95 else seed
            rid += 1
            hdr = self.env_pb.RequestHeader(method=SVC + m, request_id=rid, trace_id="fz-%d" % rid, caller="fuzz",
                                            deadline_unix_ms=int(time.time() * 1000) + 30000).SerializeToString()
            tracked = rng.random() > 0.06
            hdr = hdr if tracked else mut.mutate(hdr, self.env_pb.RequestHeader.DESCRIPTOR)
            frames = [hdr, payload]
            if rng.random() < 0.02:   # frames the server cannot take as a request
                frames, tracked = rng.choice([[hdr], [hdr, payload, b"x"], [b"", payload], [os.urandom(30)], [hdr, b""] * 3]), False
            if any(b"guard" in f.lower() for f in frames):
                continue
            self.c["requests"] += 1
            self.recent.append(("%s as %s" % (m, ident), frames))
            socks[ident].send_multipart(frames)
            if tracked:
                pending[rid] = ((m, ident, frames, ident not in allowed), time.monotonic())
            loose.extend([] if tracked else [time.monotonic()])
        end = time.monotonic() + 11
        while pending and time.monotonic() < end:
            drain(0.05)
        [s.close(0) for s in list(socks.values()) + [pubs]]

    def reply(self, frames, pending, loose):
        try:
            rh = self.env_pb.ReplyHeader.FromString(frames[0])
        except Exception:
            return self.finding("bad_replies", frames[:2])
        inp = pending.pop(rh.request_id, (None,))[0]
        if inp is None:
            inp = "untracked request id %d" % rh.request_id
            if loose:
                loose.popleft()
        code = rh.status.code
        self.c["code_" + (self.env_pb.StatusCode.Name(code) if 0 <= code <= 16 else str(code))] += 1
        blob = b"".join(frames) + rh.status.message.encode()
        for kind, hit in (("secret_echoes", self.secret_marker in blob),   # key material echoed
                          ("key_armor_echoes", b"PRIVATE KEY-----" in blob and self.secret_marker not in blob),
                          ("internal_errors", code in (2, 13)),   # UNKNOWN/INTERNAL: a handler failed unexpectedly
                          ("policy_leaks", isinstance(inp, tuple) and inp[3] and code == 0)):
            hit and self.finding(kind, (inp, rh.status.message[:300]))

    def sftp_worker(self):
        rng = random.Random(self.a.seed + 1)
        mut = Mutator(rng, self.token, self.material, self.FD)
        markers = [b"root:x:0:0", self.outside_marker, b"SLS_KEY_FILE", b"os-release", self.secret_marker]
        cmd = ["ssh", "-s", "-p", str(self.sftp_port), "-i", os.path.join(self.keys_dir, "sftp")] + SSH_OPTS + [SFTP_USER + "@127.0.0.1", "sftp"]
        for i in range(self.a.sftp_connections):
            if self.stop.is_set():
                break
            if i % 8 == 7:     # raw TCP garbage, or an SSH banner then garbage
                data = rng.choice([os.urandom(rng.randrange(1, 5000)), b"SSH-2.0-fz\r\n" + os.urandom(3000),
                                   b"SSH-2.0-" + b"A" * 70000, b"\0" * 40000, b"GET / HTTP/1.0\r\n\r\n"])
                self.recent.append(("tcp garbage", [data]))
                try:
                    with socket.create_connection(("127.0.0.1", self.sftp_port), timeout=3) as c:
                        c.sendall(data), c.recv(4096)
                except OSError:
                    pass
                self.c["tcp_garbage"] += 1
                continue
            stream = mut.sftp_stream()
            self.recent.append(("sftp stream", [stream]))
            try:
                p = subprocess.run(cmd, input=stream, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
                if p.stdout[4:5] == b"\x02":
                    self.c["sftp_sessions"] += 1
                elif p.returncode == 255:
                    self.finding("sftp_login_failures", (p.stderr[-300:], stream[:200]))
                for mk in markers:
                    if mk in p.stdout:
                        self.finding("escapes", ("SFTP reply contained %r" % mk, stream))
            except subprocess.TimeoutExpired:
                self.finding("sftp_timeouts", stream)
            self.c["sftp_connections"] += 1

    def escape_scan(self):
        found, users = [], os.path.join(self.data, "sftp", "users")
        for d in ("/", "/tmp", "/etc", "/var/tmp", "/root", os.getcwd(), self.work, self.material["outside"], self.bin):
            try:
                found += [os.path.join(d, n) for n in os.listdir(d) if self.token in n]
            except OSError:
                pass
        for top, dirs, files in os.walk(self.data):
            if top == os.path.join(users, SFTP_USER):
                dirs[:] = []
                continue
            found += [os.path.join(top, n) for n in dirs + files if self.token in n]
        return found + [p + " changed" for p, st in self.etc_stat.items() if (os.stat(p).st_mtime_ns, os.stat(p).st_size) != st]

    def check(self, final=False):
        self.c["checks"] += 1
        if not self.alive():
            for n, p in self.procs.items():
                if p.poll() is not None:
                    self.finding("crashes", "%s exited with %s" % (n, p.returncode))
            return False
        d, t0 = self.dl, time.monotonic()
        code, text, acc = self.call(SVC + "GetAccess", d.GetAccessRequest(user_name=GUARD), timeout=5)
        self.c["guard_ms_max"] = max(self.c["guard_ms_max"], int((time.monotonic() - t0) * 1000))
        if code is None:
            self.finding("hangs", "guard GetAccess did not answer within 5 s (after %d inputs)" % self.inputs())
            return False
        if code != 0 or acc != self.guard_access:
            self.finding("state_changes", "GetAccess(guard): %s %s %r" % (code, text, d.Access.FromString(acc) if code == 0 else ""))
        code, text, st = self.call(SVC + "ListStatements", d.ListStatementsRequest(user_name=GUARD), timeout=5)
        if code != 0 or st != self.guard_statements:
            self.finding("state_changes", "ListStatements(guard): %s %s" % (code, text))
        listing = self.sftp_listing()
        if listing != self.guard_listing:
            self.finding("state_changes", "sftp -b listing of guard's folder: %r" % (listing,))
        if sorted(os.listdir(os.path.join(self.data, "sftp", "users", GUARD))) != self.guard_files:
            self.finding("state_changes", "guard's folder on disk changed")
        for e in self.escape_scan():
            self.finding("escapes", "outside the fuzz user's folder: " + e)
        self.rss.append(rss_mb(self.procs["sls-report-delivery"].pid))
        if final:   # each fuzz user's folder agrees with its statement records (DLV-08 bookkeeping)
            for u in POOL:
                code, _, st = self.call(SVC + "ListStatements", d.ListStatementsRequest(user_name=u), timeout=5)
                recs = [r for r in d.StatementList.FromString(st).statements if r.state == d.DELIVERED] if code == 0 else []
                names, folder = [r.file_name for r in recs], os.path.join(self.data, "sftp", "users", u)
                files = set(os.listdir(folder)) if os.path.isdir(folder) else set()
                for n in sorted(set(names)):
                    ids = [r.statement_id for r in recs if r.file_name == n]
                    why = "one file for statements %s" % ids if len(ids) > 1 else "missing" if n not in files else None
                    why and self.finding("inconsistencies", "%s: %s: %s" % (u, n, why))
                for n in sorted(files - set(names)):
                    self.finding("inconsistencies", "%s: %s in the folder, no statement of %s records it" % (u, n, u))
        return True

    def inputs(self):
        return sum(self.c[k] for k in ("requests", "events", "sftp_connections", "tcp_garbage"))

    def campaign(self):
        t0 = time.time()
        self.prepare(), self.start(), self.setup()
        print("delivery_fuzz: work folder %s, token %s, set-up %.1f s" % (self.work, self.token, time.time() - t0), flush=True)
        pid = self.procs["sls-report-delivery"].pid
        rss_start = peak = rss_mb(pid)
        threads = [threading.Thread(target=self.guarded, args=(w,), daemon=True) for w in (self.rpc_worker, self.sftp_worker)]
        [th.start() for th in threads]
        next_check, t_fuzz = self.a.check_every, time.time()
        while any(th.is_alive() for th in threads):
            time.sleep(0.1)
            peak = max(peak, rss_mb(pid))
            if not self.alive() or self.inputs() >= next_check:
                next_check = self.inputs() + self.a.check_every
                if not self.check():
                    self.stop.set()
        for th in threads:
            th.join(30)
        if not self.stop.is_set():
            time.sleep(1.0)
            self.check(final=True)
        peak, rss_end, fuzz_s = max([peak] + self.rss), rss_mb(pid), time.time() - t_fuzz
        log = open(self.logs["sls-report-delivery"], "rb").read()
        stored = [os.path.join(t, n) for t, _, fs in os.walk(self.data) for n in fs] + [self.logs["sls-report-delivery"]]
        for path in stored:   # DLV-03: the seed private key is stored and logged nowhere
            if os.path.isfile(path) and self.secret_marker in open(path, "rb").read():
                self.finding("secret_echoes", "private key text found in " + path)
        print("delivery_fuzz: reply codes " + " ".join("%s=%d" % (k[5:], v) for k, v in sorted(self.c.items()) if k.startswith("code_")))
        for kind, detail in self.findings[:40]:
            print("FINDING %s: %s" % (kind, repr(detail)[:600]))
        failed = any(self.c[k] for k in FAILING)
        if self.findings:
            path = os.path.join(self.work, "last-inputs.txt")
            with open(path, "w") as f:
                f.writelines(["%s: %s\n" % (label, " | ".join(x.hex() for x in frames)) for label, frames in self.recent] +
                             ["FINDING %s: %r\n" % finding for finding in self.findings])
            print("delivery_fuzz: last %d inputs and all findings in %s; service log %s" % (
                len(self.recent), path, self.logs["sls-report-delivery"]))
            if self.c["crashes"]:
                print("---- service log tail ----\n" + "\n".join(log.decode("utf-8", "replace").splitlines()[-40:]))
        figures = [("inputs", self.inputs())] + [(k, self.c[k]) for k in (
            "requests", "events", "sftp_connections", "sftp_sessions", "tcp_garbage", "checks", "crashes", "hangs",
            "state_changes", "escapes")] + [("rss_start_mb", "%.1f" % rss_start), ("rss_peak_mb", "%.1f" % peak),
                                            ("rss_end_mb", "%.1f" % rss_end)] + [(k, self.c[k]) for k in (
            "guard_ms_max", "internal_errors", "unanswered", "inconsistencies", "secret_echoes", "key_armor_echoes",
            "policy_leaks", "sftp_timeouts", "sftp_login_failures", "fuzzer_errors")] + [
            ("fuzz_seconds", "%.1f" % fuzz_s), ("seconds", "%.1f" % (time.time() - t0))]
        for k, v in figures:
            print("FUZZ %s %s" % (k, v), flush=True)
        return failed

    def cleanup(self, keep):
        self.stop.set()
        for p in self.procs.values():
            p.poll() is None and p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        for home in (os.path.join(self.work, "gnupg"), os.path.join(self.data, "gnupg")):   # our gpg-agents
            if os.path.isdir(home):
                subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, timeout=20)
        hasattr(self, "ctx") and self.ctx.destroy(0)
        keep or shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bin_dir", help="folder with sls-event-bus, sls-report-delivery and slsctl")
    ap.add_argument("--requests", type=int, default=20000, help="bus inputs: requests and StatementIssued events")
    ap.add_argument("--sftp-connections", type=int, default=200, help="SSH/SFTP sessions and raw TCP connections")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--check-every", type=int, default=1000, help="inputs between checks")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (it is kept anyway when something was found)")
    args = ap.parse_args()
    random.seed(args.seed)
    c, failed = Campaign(args), True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    try:
        failed = c.campaign()
    finally:
        c.cleanup(args.keep or failed or bool(c.findings))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
