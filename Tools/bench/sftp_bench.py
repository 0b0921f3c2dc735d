#!/usr/bin/python3
"""`make bench`, report delivery: SFTP download throughput against OpenSSH's own sftp-server, and
50 concurrent sessions.

1. A 256 MiB file is downloaded with OpenSSH's `sftp` from sls-report-delivery's endpoint and,
   in the same run, from Debian's sshd + sftp-server on another loopback port (same client, same
   key type, same file, written to /dev/null). Runs alternate; the median of each is compared:
   RATIO sftp_download_256mb (target: at least 0.8).
2. 50 sftp sessions at once, each downloading its own 4 MiB file; every copy is checked with
   SHA-256, and the service's peak RSS (VmHWM) is reported.

Everything listens on 127.0.0.1; every loop is bounded.

usage: sftp_bench.py BIN_DIR [--rounds N]
"""
import argparse
import concurrent.futures
import getpass
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def emit(line):
    print(line, flush=True)


def rss_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Bench:
    def __init__(self, bin_dir, rounds):
        self.bin_dir = bin_dir
        self.rounds = rounds
        self.work = tempfile.mkdtemp(prefix="sftp-bench-")
        self.processes = []

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(self.work, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def start_service(self):
        self.rpc_port, self.sftp_port = free_port(), free_port()
        # No account service in this bench: the user is set up without its AccountOpened (ACC-05).
        env = dict(os.environ, SLS_INSECURE="1", SLS_LOG_LEVEL="notice", SLS_DELIVERY_REQUIRE_KNOWN_ACCOUNT="0")
        log = open(self.path("report-delivery.log"), "w")
        self.service = subprocess.Popen(
            [os.path.join(self.bin_dir, "sls-report-delivery"), "--data-dir", self.path("data"),
             "--listen", "tcp://127.0.0.1:%d" % self.rpc_port, "--sftp-host", "127.0.0.1",
             "--sftp-port", str(self.sftp_port), "--sftp-max-sessions-per-address", "64",
             "--events-publish", "tcp://127.0.0.1:%d" % free_port(),
             "--events-subscribe", "tcp://127.0.0.1:%d" % free_port()],
            env=env, stdout=log, stderr=log)
        self.processes.append(self.service)
        self.slsctl_env = dict(os.environ, SLSCTL_REPORT_DELIVERY="tcp://127.0.0.1:%d" % self.rpc_port,
                               SLSCTL_INSECURE="1")
        for _ in range(100):
            if subprocess.run([os.path.join(self.bin_dir, "slsctl"), "health", "report-delivery", "--timeout", "0.5"],
                              env=self.slsctl_env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise SystemExit("sls-report-delivery did not start:\n" + open(self.path("report-delivery.log")).read())

    def call(self, method, request):
        run([os.path.join(self.bin_dir, "slsctl"), "call", "report-delivery", method, json.dumps(request)],
            env=self.slsctl_env)

    def set_up_user(self):
        self.key = self.path("id_ed25519")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key])
        public = open(self.key + ".pub").read()
        self.call("CreateUser", {"userName": "bench"})
        self.call("AddPublicKey", {"userName": "bench", "publicKey": public})
        self.call("SetAddresses", {"userName": "bench", "addresses": ["127.0.0.1"]})
        self.folder = self.path("data", "sftp", "users", "bench")

    def start_sshd(self):
        """OpenSSH's sshd with its sftp-server, for the current user, on its own port and files."""
        self.sshd_port = free_port()
        host_key = self.path("sshd_host_ed25519")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key])
        authorized = self.path("authorized_keys")
        shutil.copy(self.key + ".pub", authorized)
        os.chmod(authorized, 0o600)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        config = self.path("sshd_config")
        with open(config, "w") as f:
            f.write("\n".join([
                "Port %d" % self.sshd_port, "ListenAddress 127.0.0.1", "HostKey %s" % host_key,
                "AuthorizedKeysFile %s" % authorized, "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no", "PidFile %s" % self.path("sshd.pid"),
                "Subsystem sftp /usr/lib/openssh/sftp-server", ""]))
        sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config],
                                stdout=open(self.path("sshd.log"), "w"), stderr=subprocess.STDOUT)
        self.processes.append(sshd)
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.sshd_port)) == 0:
                    return
            time.sleep(0.05)
        raise SystemExit("sshd did not start:\n" + open(self.path("sshd.log")).read())

    def sftp(self, port, user, commands, cwd=None, timeout=300, cipher=None):
        batch = tempfile.NamedTemporaryFile("w", dir=self.work, delete=False)
        batch.write("\n".join(commands) + "\n")
        batch.close()
        result = subprocess.run(
            ["sftp", "-b", batch.name, "-i", self.key, "-P", str(port), "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "LogLevel=ERROR"] + (["-c", cipher] if cipher else []) + ["%s@127.0.0.1" % user],
            cwd=cwd or self.work, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            log = open(self.path("report-delivery.log")).read()[-2000:]
            which = "report delivery" if port == self.sftp_port else "OpenSSH's sshd (log: %s)" % open(self.path("sshd.log")).read()[-1000:]
            raise SystemExit("sftp failed against %s: %s\nreport-delivery's log ends:\n%s" % (which, result.stderr, log))
        return result

    def throughput(self):
        size = 256 << 20
        big = os.path.join(self.folder, "big.bin")
        with open(big, "wb") as f:
            for _ in range(size >> 20):
                f.write(os.urandom(1 << 20))
        # The client's default cipher (chacha20-poly1305 with this OpenSSH), then AES-GCM, which
        # both servers also offer: each server is compared with the same cipher.
        for cipher, suffix in ((None, ""), ("aes128-gcm@openssh.com", "_aes128gcm")):
            ours, theirs = [], []
            for _ in range(self.rounds):
                for port, user, remote, times in ((self.sftp_port, "bench", "big.bin", ours),
                                                  (self.sshd_port, getpass.getuser(), big, theirs)):
                    start = time.perf_counter()
                    self.sftp(port, user, ["get %s /dev/null" % remote], cipher=cipher)
                    times.append(size / (time.perf_counter() - start) / 1e6)
            ours_mb, theirs_mb = statistics.median(ours), statistics.median(theirs)
            emit("BENCH sftp_download_256mb%s_report_delivery %.1f MB/s" % (suffix, ours_mb))
            emit("BENCH sftp_download_256mb%s_openssh_sftp_server %.1f MB/s" % (suffix, theirs_mb))
            emit("RATIO sftp_download_256mb%s %.3f" % (suffix, ours_mb / theirs_mb))
        os.unlink(big)

    def concurrent_sessions(self, sessions=50, size=4 << 20):
        digests = {}
        for index in range(sessions):
            data = os.urandom(size)
            name = "file-%02d.bin" % index
            with open(os.path.join(self.folder, name), "wb") as f:
                f.write(data)
            digests[name] = hashlib.sha256(data).hexdigest()
        before = rss_kb(self.service.pid, "VmRSS")
        download = self.path("downloads")
        os.makedirs(download, exist_ok=True)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=sessions) as pool:
            futures = [pool.submit(self.sftp, self.sftp_port, "bench", ["get %s" % name], download)
                       for name in digests]
            for future in futures:
                future.result()
        elapsed = time.perf_counter() - start
        intact = sum(1 for name, digest in digests.items()
                     if hashlib.sha256(open(os.path.join(download, name), "rb").read()).hexdigest() == digest)
        peak = rss_kb(self.service.pid, "VmHWM")
        emit("BENCH sftp_%d_sessions_intact %d of %d" % (sessions, intact, sessions))
        emit("BENCH sftp_%d_sessions_seconds %.2f s" % (sessions, elapsed))
        emit("BENCH sftp_%d_sessions_rss_before %.1f MB" % (sessions, before / 1024))
        emit("BENCH sftp_%d_sessions_peak_rss %.1f MB" % (sessions, peak / 1024))
        if intact != sessions:
            raise SystemExit("%d of %d downloads were damaged" % (sessions - intact, sessions))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bin_dir")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench = Bench(args.bin_dir, args.rounds)
    try:
        bench.start_service()
        bench.set_up_user()
        bench.start_sshd()
        bench.throughput()
        bench.concurrent_sessions()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
