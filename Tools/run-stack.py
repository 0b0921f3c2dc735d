#!/usr/bin/python3
"""Runs the stack of compose/docker-compose.yml natively, in the foreground.

No Docker engine runs on these machines, so `make run` reads the compose file and
starts each service's command with its environment and ports, mapping compose host
names (tcp://event-bus:7091) to 127.0.0.1, 0.0.0.0 binds to 127.0.0.1, named volumes
to folders under .run/data/, and bind mounts (./x:/in/container) to the host paths they
name, so that SLS_KEY_FILE=/keys/event-bus.key becomes .run/keyring/secret/event-bus.key.
Ctrl-C or SIGTERM stops everything cleanly.

usage: run-stack.py COMPOSE_FILE BINARY_DIR RUN_DIR
"""
import os
import signal
import subprocess
import sys
import time

import yaml


def main():
    compose_file, binaries, run_dir = sys.argv[1:4]
    with open(compose_file) as f:
        compose = yaml.safe_load(f)
    services = compose["services"]
    hosts = set(services)
    order = sorted(services, key=lambda name: 0 if not services[name].get("depends_on") else 1)

    def local(value):
        value = str(value).replace("0.0.0.0", "127.0.0.1")
        for host in hosts:
            value = value.replace("tcp://%s:" % host, "tcp://127.0.0.1:")
        return value

    processes = []
    for name in order:
        spec = services[name]
        env = dict(os.environ)
        env.update({key: local(value) for key, value in spec.get("environment", {}).items()})
        for volume in spec.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith(".") or source.startswith("/"):
                # A bind mount: relative to the compose file's folder.
                host = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(compose_file)), source))
            else:
                host = os.path.join(run_dir, "data", source)
                os.makedirs(host, exist_ok=True)
            for key, value in list(env.items()):
                if value == target:
                    env[key] = host
                elif value.startswith(target + "/"):
                    env[key] = host + value[len(target):]
        port = env.get("SLS_DELIVERY_SFTP_PORT", "")
        if port.isdigit() and int(port) < 1024 and os.geteuid() != 0:
            # Ports under 1024 need root (the container has it); a developer's shell may not.
            env["SLS_DELIVERY_SFTP_PORT"] = str(2200 + int(port))
            print("note: not root, so report delivery's SFTP port %s becomes %s (SLS_DELIVERY_SFTP_PORT)"
                  % (port, env["SLS_DELIVERY_SFTP_PORT"]), flush=True)
        command = list(spec["command"])
        command[0] = os.path.join(binaries, command[0])
        processes.append((name, subprocess.Popen(command, env=env)))
        listen = env.get("SLS_LISTEN", "")
        extra = ""
        if "SLS_DELIVERY_SFTP_PORT" in env:
            extra = "  sftp %s:%s" % (env.get("SLS_DELIVERY_SFTP_HOST", "0.0.0.0"), env["SLS_DELIVERY_SFTP_PORT"])
        if name == "event-bus":
            extra = "  publishers %s  subscribers %s" % (env.get("SLS_EVENTS_PUBLISH"), env.get("SLS_EVENTS_SUBSCRIBE"))
        print("started %-24s %s%s" % (name, listen, extra), flush=True)
        if name == "event-bus":
            time.sleep(0.3)
    keyring = os.path.normpath(os.path.join(run_dir, "keyring"))
    print("stack is up, CurveZMQ on; Ctrl-C stops it. slsctl as operations (see compose/bus-policy.yaml):\n"
          "  export SLSCTL_KEY_FILE=%s/secret/operations.key SLSCTL_PUBLIC_KEYS=%s/public\n"
          "  %s/slsctl health" % (keyring, keyring, binaries), flush=True)

    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(p.poll() is None for _, p in processes):
        time.sleep(0.2)
    for name, process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    status = 0
    for name, process in reversed(processes):
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        if code not in (0, -signal.SIGTERM):
            print("%s exited with %s" % (name, code), flush=True)
            status = 1
    if not stopping:
        print("a service stopped by itself; the stack was shut down", flush=True)
        status = 1
    print("stack stopped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
