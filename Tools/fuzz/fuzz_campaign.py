#!/usr/bin/python3
"""Structure-aware fuzz campaign against a running sls-crypto-rules and the sls-event-bus
in front of it, attacking them from outside the way a hostile client or publisher would.

usage:
  Tools/fuzz/fuzz_campaign.py --bin-dir DIR [--protos DIR] [--requests 1000000]
      [--events 200000] [--check-every 10000] [--seed N] [--max-message-bytes 65536]
      [--slow-readers 1] [--extra-service-arg ARG]... [--report FILE] [--time-limit 900]
      [--disable MUTATOR,...] [--no-backtraces] [--policy FILE] [--hostile-every 250]
      [--insecure]
  Tools/fuzz/fuzz_campaign.py --bin-dir DIR --replay crash-1.bin [--replay-timeout 600]
      [--policy FILE] [--insecure]

Needs only /usr/bin/python3 with Debian's python3-zmq (with CURVE), python3-protobuf and
python3-yaml, and protoc (Python modules are generated from protos/ into a temporary folder,
as Tests/EndToEndTests/python/wire_client.py does); and slsctl in --bin-dir (keys).

Bus security (CurveZMQ) is on, as in production, unless --insecure is given
  The campaign makes a keyring in its work folder (<bin-dir>/slsctl keys create --keyring
  <tmp>/keyring event-bus crypto-rules operations portal trading-gateway accounts
  venue-gateway) and starts each process with its own key (--key-file), the public key
  directory (--public-keys <tmp>/keyring/public) and --policy (default: the stack's
  compose/bus-policy.yaml). Every socket of the campaign is a CurveZMQ client with the
  identity the policy lets do what it does, so the fuzz traffic reaches the handlers:
    - requests: customer methods (RequestPermission, CheckOrder, PlaceOrder, CancelOrder,
      GetAccountState, RequestTransfer, GetPermission, Health/Check) as "portal"; GetInfo,
      ChargeCustodyFees and EventLog/Replay as "operations" (per method: the first of portal,
      operations, trading-gateway the policy lets call it). Checks and event markers read
      GetAccountState as "operations", account preparation calls as "portal".
    - events: sls.accounts.v1.* from a PUB with the "accounts" key, MarkPriceUpdated,
      VenueOrderFilled and VenueOrderClosed from one with the "venue-gateway" key; the seeds'
      EventHeader.producer is that identity (mutations may still change it: the bus must drop
      those). ServiceHeartbeat seeds go out as "accounts", which may not publish them (dropped).
    - an observer SUB ("operations", subscribed to exact type names) reads what the bus
      forwards: every event it gets must be one the policy lets its producer publish, with
      topic == header.type, and none of the hostile events below.
  Hostile connection-level traffic, every --hostile-every inputs (0: none), never waited on
  for more than 1.5 s (poll timeouts, LINGER 0, non-blocking sends): DEALERs without CURVE,
  with a fresh unknown key (zmq.curve_keypair()) or with a wrong server key, to the service
  and to the bus's health endpoint, sending GetAccountState/CancelOrder/RequestTransfer for
  the guard (they must get no reply: their handshakes must fail); PUBs without CURVE or with
  an unknown key publishing balance updates for the guard; events from a valid key under
  another producer name (spoofed) or of a type its identity may not publish, naming the
  guard or its resting order; calls from admitted identities the policy does not allow
  (must get PERMISSION_DENIED); an XSUB of "operations" that subscribes and unsubscribes the
  service's topics and sends junk subscription frames (the service must keep getting its
  events). Subscribers that must get nothing stay connected all along (operations to "", portal
  to prefixes it may not read, one without CURVE, one with an unknown key). Refusals are counted
  (FUZZ refused_connections, ...), not failures; anything let through (a reply, a forwarded or
  delivered hostile event, an admitted handshake, a non-PERMISSION_DENIED answer) is a
  SECURITY finding ("FUZZ hostile_leaks N") and fails the run; a hostile event that reached the
  service also shows as a STATE CHANGE of the guard.
  --insecure runs the old way: both processes get --insecure and every socket is plain; no
  keyring, no hostile connection-level traffic, and one PUB (producer "fuzz-marker") plus a
  catch-all SUB, as before.

What a campaign does
  1. Starts sls-event-bus and sls-crypto-rules on random loopback ports (20000-32000) with a
     temporary data folder (logs: <tmp>/sls-*.log); the service gets --max-message-bytes and
     every --extra-service-arg, both get their keys and the policy (or --insecure).
  2. Prepares accounts through the bus (sls.accounts.v1 AccountProfileUpdated,
     MobileNumberUpdated and AccountBalanceUpdated; MarkPriceUpdated) and RequestPermission:
     the guard account FUZZ-GUARD-1 (with a BTC position, bought and filled, and one resting
     SELL LIMIT GTC order), the fuzz accounts FZ-A1..FZ-A9 (various profiles; FZ-A9's mobile
     number unverified), FZ-SLOW (slow readers) and FZ-BARRIER (event barrier),
     then records the guard's GetAccountState.
  3. Sends --requests requests and --events events, interleaved at random. Each one is a valid
     message built from a seed (protobuf classes), then given 0..3 mutations, structured
     (hostile strings, amounts, enum values, times, unknown or duplicated fields, wrong wire
     types, methods, request ids, deadlines, metadata, producers, sequences, topics) or raw
     (bit flips, truncation, inserted bytes, lying lengths, frame counts); a few are oversized.
     Requests go through several DEALER sockets (at most 256 in flight each; one reconnects
     every 20000 requests; one has a 255-byte routing id; with security: four as "portal",
     one per other identity needed, see above); events through the PUB sockets.
     Fuzz inputs only name other accounts than the guard. On purpose some use look-alikes of
     the guard's id ("FUZZ-GUARD-1\\0x", "fuzz-guard-1", "FUZZ-GUARD-1 ", ...) and
     CancelOrder is tried with the guard's order id under FZ accounts: those are other
     accounts, so the guard must not change; if it does, identities are being confused.
     With security, the hostile traffic above is mixed in.
  4. After every --check-every inputs (and at once when the service exits or stops
     answering): the processes must be alive (else CRASH: exit status/signal and crash site
     from the log, inputs saved, log tail printed, restart on the same data folder), a fresh
     DEALER must get Health/Check and GetAccountState within 5 s (else HANG: kill -9,
     restart), published events must be processed (a marker event must show up within 30 s,
     else HANG of the event pipeline), and the guard's state must equal the recorded one
     (else STATE CHANGE, then re-recorded). One progress line per check. (Markers go out on
     the "accounts" PUB: they confirm that connection's earlier events exactly, the venue
     PUB's only as far as the bus keeps the two connections in step.)
  5. Slow readers: --slow-readers DEALERs (ZMQ_RCVHWM=1, ZMQ_RCVBUF=4096) each send up to
     200,000 valid GetAccountState requests (about 20 s at most) and never read; the
     service's RSS growth per connection is measured while they are connected and again
     5 s after they disconnect.
  6. Stops the load, waits 5 s, reads the RSS again, prints the summary, stops both processes
     (SIGTERM, kill -9 after 10 s) and deletes the temporary folder unless there were findings.

Output: a progress line per check, one block per finding, then exactly these lines:
  FUZZ requests N / FUZZ events N / FUZZ crashes N / FUZZ hangs N / FUZZ state_changes N /
  FUZZ rss_start_mb X / FUZZ rss_peak_mb X / FUZZ rss_end_mb X / FUZZ rss_end_vs_warmup X /
  FUZZ slow_reader_mb_per_connection X / FUZZ replies_by_status {...} / FUZZ seconds X
  (plus informational FUZZ lines: distinct crash sites, rates, time limit, requests by
  identity, events the observer saw forwarded, refused_connections, hostile_attempts,
  permission_denied_as_expected, hostile_events, hostile_leaks, ...).
Exit status: 0 only when crashes == hangs == state_changes == hostile_leaks == 0,
rss_end_vs_warmup <= 1.2 and slow_reader_mb_per_connection < 10; 1 otherwise (the failed
conditions are named); 2 when the stack cannot be started or prepared.

Reproducibility: --seed (printed) fixes every choice the generator makes (the hostile traffic
has a random generator of its own, seeded from it). Order ids learned from replies (used by
CancelOrder and venue events) depend on timing, as do crash points.

--disable takes mutator names (listed by --list-mutators), e.g. to look past a known crash:
  --disable enum_negative,amount
"oversize" and "lookalike" can be disabled too.

Saved inputs (crash-N.bin, hang-N.bin, state-N.bin in the --report file's folder, else in the
kept temporary folder; at most --max-saved-per-site crash files per distinct crash site): the 200 inputs before the oldest input that may not have been
processed when the failure was seen (the oldest unanswered request, the first event after
the last event marker the service confirmed; for a state change, the first input after the
last check that found the guard unchanged), then every later input. Format:
  b"SLSFUZZ1\\n", then per input: one line of JSON (UTF-8, ends with "\\n") such as
  {"index": 5120, "kind": "request" | "event", "t": 12.345, "dealer": 2, "identity": "portal",
   "desc": ["PlaceOrder seed 'buy-market' FZ-A3", "payload.cash_value(6)=b'9999...' (20 digits)"],
   "frames": [31, 58]}
  followed by the frames' bytes back to back (lengths in "frames"; requests are the frames a
  DEALER sent, events the frames a PUB sent: topic, EventHeader, payload; "identity" is the
  key the socket used, null without security; hostile events from valid keys are saved too).
--replay FILE starts a fresh stack (secured like the campaign unless --insecure: a keyring of
its own), prepares it the same way and sends those inputs one at a time, each from the
identity it was saved with (waiting for each reply; an event marker after each event); it names every input after
which the service crashed, hung or changed the guard (restarting the service on the same data
folder after a crash or hang, as the campaign does), then sends each distinct culprit alone to
another fresh stack to tell whether it reproduces by itself. When the service cannot start on
its data any more, the campaign keeps that folder (crypto-rules-data.broken-N) and goes on with
a fresh, newly prepared one.
"""
import argparse
import collections
import importlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import zmq

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.normpath(os.path.join(SCRIPT_DIR, "..", ".."))
DEFAULT_PROTOS = os.path.join(REPO_ROOT, "protos")
DEFAULT_POLICY = os.path.join(REPO_ROOT, "compose", "bus-policy.yaml")

GUARD = "FUZZ-GUARD-1"
FZ_ACCOUNTS = ["FZ-A%d" % i for i in range(1, 10)]
BARRIER_ACCOUNT = "FZ-BARRIER"
SLOW_ACCOUNT = "FZ-SLOW"
CRYPTO = "sls.crypto.v1.CryptoRules/"
M_HEALTH = "sls.health.v1.Health/Check"
M_REPLAY = "sls.events.v1.EventLog/Replay"
U64 = (1 << 64) - 1
INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
YEAR_3000_MS = 32503680000000
WINDOW = 256             # requests in flight per DEALER
DEALERS = 4
RECYCLE_EVERY = 20000    # requests after which DEALER 0 is closed and replaced
MARKER_EVERY = 250       # events between event markers (confirms how far events were processed)
HISTORY_BEFORE = 200
CHECK_TIMEOUT = 5.0
EVENT_BARRIER_TIMEOUT = 30.0

# Bus security: the identities of the campaign's keyring (the processes' and the clients').
IDENTITIES = ["event-bus", "crypto-rules", "operations", "portal", "trading-gateway", "accounts", "venue-gateway"]
SERVER_IDENTITY = {"sls-event-bus": "event-bus", "sls-crypto-rules": "crypto-rules"}
REQUEST_CALLERS = ("portal", "operations", "trading-gateway")   # fuzz requests, account preparation
CHECK_CALLERS = ("operations", "portal", "trading-gateway")     # checks and event markers
EVENT_PUBLISHERS = ("accounts", "venue-gateway")
HOSTILE_WAIT = 1.5        # seconds a hostile connection is watched before it is closed
HOSTILE_GRACE = 0.25      # seconds it is still watched after its handshake was seen to fail
HOSTILE_OPEN_MAX = 8      # hostile connections open at once (more are skipped)
HOSTILE_MARK = "fz-hostile-"
# What the observer subscribes to (exact types; only those the policy lets "operations" read).
OBSERVED_TYPES = ["sls.accounts.v1.AccountOpened", "sls.accounts.v1.AccountProfileUpdated",
                  "sls.accounts.v1.MobileNumberUpdated", "sls.accounts.v1.AccountBalanceUpdated",
                  "sls.crypto.v1.MarkPriceUpdated", "sls.crypto.v1.VenueOrderFilled", "sls.crypto.v1.VenueOrderClosed",
                  "sls.events.v1.ServiceHeartbeat", "sls.crypto.v1.OrderAccepted", "sls.crypto.v1.OrderSettled",
                  "sls.crypto.v1.OrderClosed", "sls.crypto.v1.PermissionDecided", "sls.crypto.v1.CustodyFeeCharged"]


def now_ms():
    return int(time.time() * 1000)


def short(value, limit=48):
    """A bounded repr of bytes or str for descriptions."""
    if isinstance(value, int):
        return str(value)
    text = repr(value[:limit])
    if len(value) > limit:
        text += "+%dB (len %d)" % (len(value) - limit, len(value))
    return text


# ---------------------------------------------------------------------------------------------
# Generated protobuf modules

class Protos:
    def __init__(self, protos_dir, out_dir):
        files = ["sls/rpc/v1/envelope.proto", "sls/health/v1/health.proto", "sls/events/v1/event.proto",
                 "sls/accounts/v1/accounts.proto", "sls/crypto/v1/crypto.proto"]
        os.makedirs(out_dir, exist_ok=True)
        subprocess.run(["protoc", "-I", protos_dir, "--python_out", out_dir] + files, check=True)
        sys.path.insert(0, out_dir)
        self.envelope = importlib.import_module("sls.rpc.v1.envelope_pb2")
        self.health = importlib.import_module("sls.health.v1.health_pb2")
        self.events = importlib.import_module("sls.events.v1.event_pb2")
        self.accounts = importlib.import_module("sls.accounts.v1.accounts_pb2")
        self.crypto = importlib.import_module("sls.crypto.v1.crypto_pb2")
        c, h, e, acc = self.crypto, self.health, self.events, self.accounts
        # method -> (request class, response class)
        self.methods = {
            CRYPTO + "GetInfo": (h.ServiceInfoRequest, h.ServiceInfo),
            CRYPTO + "RequestPermission": (c.PermissionRequest, c.PermissionReply),
            CRYPTO + "GetPermission": (c.PermissionRequest, c.PermissionReply),
            CRYPTO + "CheckOrder": (c.OrderRequest, c.CheckOrderReply),
            CRYPTO + "PlaceOrder": (c.OrderRequest, c.Order),
            CRYPTO + "CancelOrder": (c.CancelOrderRequest, c.Order),
            CRYPTO + "GetAccountState": (c.GetAccountStateRequest, c.AccountState),
            CRYPTO + "RequestTransfer": (c.TransferRequest, c.TransferReply),
            CRYPTO + "ChargeCustodyFees": (c.CustodyFeeRequest, c.CustodyFeeReply),
            M_HEALTH: (h.HealthCheckRequest, h.HealthCheckResponse),
            M_REPLAY: (e.ReplayRequest, e.ReplayReply),
        }
        self.event_types = {cls.DESCRIPTOR.full_name: cls for cls in (
            acc.AccountOpened, acc.AccountProfileUpdated, acc.MobileNumberUpdated, acc.AccountBalanceUpdated,
            c.MarkPriceUpdated, c.VenueOrderFilled, c.VenueOrderClosed, e.ServiceHeartbeat)}

    def status_name(self, code):
        try:
            return self.envelope.StatusCode.Name(code)
        except ValueError:
            return str(code)


# ---------------------------------------------------------------------------------------------
# A tiny protobuf wire codec: enough to take our own seeds apart and to inject raw fields.

_VARINTS = []
for _n in range(1 << 14):
    _VARINTS.append(bytes([_n]) if _n < 0x80 else bytes([(_n & 0x7F) | 0x80, _n >> 7]))


def varint(n):
    """Encodes n (negative numbers as 64-bit two's complement: 10 bytes, like int32/int64 -1)."""
    if 0 <= n < 16384:
        return _VARINTS[n]
    n &= U64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def encode(fields):
    """fields: (number, wire type, value): ints for type 0, bytes for 2, raw bytes otherwise
    (types 1 and 5 take 8 and 4 bytes; 3 and 4 are bare group markers; 6 and 7 are invalid)."""
    parts = []
    for num, wt, val in fields:
        parts.append(varint((num << 3) | wt))
        if wt == 0:
            parts.append(varint(val))
        elif wt == 2:
            parts.append(varint(len(val)))
            parts.append(val)
        elif val:
            parts.append(val)
    return b"".join(parts)


def parse(data):
    """Splits a well-formed message (our own seeds) into (number, wire type, value) fields."""
    fields = []
    i, n = 0, len(data)
    while i < n:
        key, i = read_varint(data, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = read_varint(data, i)
        elif wt == 2:
            length, i = read_varint(data, i)
            val = bytes(data[i:i + length])
            i += length
        elif wt == 1:
            val = bytes(data[i:i + 8])
            i += 8
        elif wt == 5:
            val = bytes(data[i:i + 4])
            i += 4
        else:
            raise ValueError("unexpected wire type %d" % wt)
        fields.append((num, wt, val))
    return fields


def set_field(fields, num, wt, val):
    for i, f in enumerate(fields):
        if f[0] == num:
            fields[i] = (num, wt, val)
            return
    fields.append((num, wt, val))


def get_field(fields, num, default=None):
    for f in fields:
        if f[0] == num:
            return f[2]
    return default


AMOUNT_NAMES = {"quantity", "cash_value", "limit_price", "price", "assets_hkd", "total_equity", "cash"}


class Schema:
    """Field numbers, names and kinds of one message, from its protobuf descriptor."""

    def __init__(self, descriptor):
        from google.protobuf.descriptor import FieldDescriptor as F
        self.name = descriptor.name
        self.full_name = descriptor.full_name
        self.fields = {}
        self.by_kind = collections.defaultdict(list)
        for fd in descriptor.fields:
            if fd.type == F.TYPE_STRING:
                kind = "amount" if fd.name in AMOUNT_NAMES else "account" if fd.name == "account_id" else "string"
            elif fd.type == F.TYPE_ENUM:
                kind = "enum"
            elif fd.type in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
                kind = "time" if fd.name.endswith("_unix_ms") else "int64"
            elif fd.type in (F.TYPE_UINT64, F.TYPE_FIXED64):
                kind = "uint64"
            elif fd.type in (F.TYPE_INT32, F.TYPE_SINT32):
                kind = "int32"
            elif fd.type == F.TYPE_UINT32:
                kind = "uint32"
            elif fd.type == F.TYPE_BOOL:
                kind = "bool"
            elif fd.type == F.TYPE_MESSAGE:
                kind = "message"
            else:
                kind = "bytes"
            self.fields[fd.number] = (fd.name, kind, fd.message_type)
            self.by_kind[kind].append(fd.number)
        self.strings = self.by_kind["string"] + self.by_kind["amount"] + self.by_kind["account"]
        self.ints = (self.by_kind["time"] + self.by_kind["int64"] + self.by_kind["uint64"] +
                     self.by_kind["int32"] + self.by_kind["uint32"] + self.by_kind["bool"])
        self.numbers = sorted(self.fields)

    def label(self, num):
        name = self.fields.get(num, ("?",))[0]
        return "%s(%d)" % (name, num)

    def wire_type(self, num):
        kind = self.fields[num][1]
        return 2 if kind in ("string", "amount", "account", "message", "bytes") else 0


# ---------------------------------------------------------------------------------------------
# Hostile values

def _b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


CONTROL_STRINGS = [b"FZ\x01\x02\x03\x07\x08", b"\x1b[31mRED\x1b[0m", b"FZ-A1\x7f\x7f", b"\x00", b"\t\v\f",
                   b"FZ-A1\r", b"\x1b]0;owned\x07"]
NEWLINE_STRINGS = [b"x\nFAKE LOG LINE level=critical service=crypto-rules", b"x\r\nFAKE LOG LINE",
                   b"\nFAKE LOG LINE", b"x\n\n\nFAKE LOG LINE", _b("x\u2028FAKE LOG LINE")]
INVALID_UTF8 = [b"\xff\xfe\xfd", b"FZ-A1\xc0\x80", b"\xed\xa0\x80", b"FZ-A1\xe2\x82", b"\x80", b"\xf4\x90\x80\x80",
                b"\xc3\x28", b"\xf8\x88\x80\x80\x80", b"FZ-A\xff1"]
UNICODE_STRINGS = [_b("\u202eFZ-A1"), _b("FZ-A1\u200b"), _b("A\u030a"), _b("\U0001F4B8" * 16), _b("\ufeffFZ-A1"),
                   _b("\u0130\u0131"), _b("\uffff\ufffe"), _b("FZ-\u00c5"), _b("FZ-A\u030a"), _b("\U000E0041")]
INJECTION_STRINGS = [b"' OR '1'='1", b"'); DROP TABLE orders; --", b"%s%s%s%n%n", b"{}{0}{1}", b"${jndi:ldap://x/a}",
                     b'"},{"x":"', b"../../../../etc/passwd", b"\\", b"*", b"%", b"_", b"NULL", b"null",
                     b"<script>", b"CO-", b"CO-%", b"1; SELECT 1"]
# Other accounts that look like the guard: a service that keeps identities apart must not touch
# the guard for any of them (a C-string layer would cut "FUZZ-GUARD-1\0x" to the guard's id).
LOOKALIKE_GUARD = [b"FUZZ-GUARD-1\x00x", b"FUZZ-GUARD-1\x00", b"FUZZ-GUARD-1\x00FZ-A1", b"FUZZ-GUARD-1 ",
                   b" FUZZ-GUARD-1", b"fuzz-guard-1", b"FUZZ-GUARD-1\n", b"FUZZ-GUARD-1\t", _b("FUZZ-GUARD-\uff11"),
                   b"FUZZ-GUARD-01", b"FUZZ-GUARD-1\xff"]
AMOUNTS = [b"99999999999999999999", b"-99999999999999999999", b"9999999999999999999999999999999999999999",
           b"99999999999999999999.999999999999999999", b"-5", b"-0.01", b"-0", b"0", b"0.0", b"0.00",
           b"0.0000000000000000000000001", b"1.0000000000000000000000001", b"1e9", b"1E-9", b"", b" 1", b"1 ",
           b"1,000", b"1_000", b"NaN", b"Infinity", b"-Infinity", b"inf", b"0x10", b"+1", b"--1", b"1..2", b".5",
           b"5.", b"-", b".", b"00000000000000000000001", b"170141183460469231731.687303715884105727",
           b"18446744073709551616", b"0.000000000000000001", b"1.000000000000000001", _b("\uff11\uff12"),
           _b("\u0663"), b"1\x002", b"12345678901234567890", b"-12345678901234567890.123456789012345678",
           b"340282366920938463463374607431768211455", b"10000000000000000000", b"0.00000001", b"0.000000009",
           b"100000000000000000000", b"1" + b"0" * 19, b"9" * 20 + b".5", b"65000", b"1e400", b"-1e-400"]
TIMES = [YEAR_3000_MS, INT64_MAX, INT64_MIN, -1, 1, 0, 253402300799999, 253402300800000, -62135596800000,
         1 << 53, (1 << 53) + 1, INT64_MAX - 1, -YEAR_3000_MS, 9999999999999999]
PAST_DEADLINES = [1, -1, INT64_MIN, 1000, -YEAR_3000_MS]
UINT64S = [0, 1, U64, 1 << 63, (1 << 63) - 1, 1 << 32, (1 << 32) - 1, U64 - 1]
UINT32S = [0, 1, (1 << 32) - 1, 1 << 32, U64, 1 << 31, 1000000000]
INT32S = [-1, -2147483648, 2147483647, 2147483648, U64, 1 << 40, -2]
BOOLS = [2, 255, U64, 1 << 32, 1 << 63]
NEGATIVE_ENUMS = [-1, -2, -2147483648, -2147483647, INT64_MIN]
RANGE_ENUMS = [2147483647, 2147483648, 4294967295, 4294967296, 99, 3, 5, 6, 7, 100000, U64 >> 1, 1 << 35]
HUGE_VARINTS = [U64, 1 << 63, U64 - 1, (1 << 63) - 1, 1 << 62]
UNKNOWN_NUMBERS = [15, 16, 17, 31, 99, 1000, 19000, 19999, 262143, 536870911]
METHODS = [b"", b"/", CRYPTO.encode(), (CRYPTO + "Nope").encode(), (CRYPTO + "checkorder").encode(),
           (CRYPTO + "CheckOrder\x00x").encode(), (CRYPTO + "CheckOrder ").encode(), b"sls.crypto.v1.CryptoRules",
           b"sls.enrollment.v1.Enrollment/GetInfo", b"sls.health.v1.Health/Watch", b"../../etc/passwd",
           (CRYPTO + "PlaceOrder/Extra").encode(), b"\xff\xfe", b"A" * 4096, b"sls.crypto.v1.CryptoRules//PlaceOrder",
           b"sls.events.v1.EventLog/replay", _b("sls.crypto.v1.CryptoRules/Place\u041frder"), b"grpc.health.v1.Health/Check"]
PRODUCERS = ["account-service", "market-data", "venue"]


class Input:
    __slots__ = ("kind", "method", "topic", "hdr", "hs", "pay", "ps", "desc", "post", "frames_mode",
                 "intact", "oversize", "payload_mutations", "identity")

    def __init__(self, kind, method, topic, hdr, hs, pay, ps, desc):
        self.kind, self.method, self.topic = kind, method, topic
        self.hdr, self.hs, self.pay, self.ps = hdr, hs, pay, ps
        self.desc = desc
        self.post = []          # byte-level operations after encoding: (target, op)
        self.frames_mode = None
        self.intact = True      # header will be decoded with our request id
        self.oversize = None
        self.payload_mutations = True
        self.identity = None    # the key its socket uses (None without bus security)


class Generator:
    """Valid seeds from the protobuf classes, then 0..3 structured or raw mutations."""

    def __init__(self, pb, rng, max_bytes, disabled, keys=None):
        self.pb, self.rng, self.max_bytes = pb, rng, max_bytes
        self.keys = keys        # bus security: who sends what (None: --insecure, the old producers)
        self.disabled = set(disabled)
        c, h, e, env = pb.crypto, pb.health, pb.events, pb.envelope
        self.header_schema = Schema(env.RequestHeader.DESCRIPTOR)
        self.metadata_schema = Schema(env.MetadataEntry.DESCRIPTOR)
        self.event_header_schema = Schema(e.EventHeader.DESCRIPTOR)
        self.schemas = {}
        for method, (req, _) in pb.methods.items():
            self.schemas[method] = Schema(req.DESCRIPTOR)
        for name, cls in pb.event_types.items():
            self.schemas[name] = Schema(cls.DESCRIPTOR)
        self.order_pool = collections.deque(maxlen=2000)   # FZ order ids learned from PlaceOrder replies
        self.guard_order_id = b""
        self.counter = 0
        self.instances = {p: ("%016x" % rng.getrandbits(64)).encode() for p in PRODUCERS}
        self.producer_names = list(PRODUCERS)
        if keys is not None:
            # The producers a valid seed has with security (each publisher's identity), and the
            # other identities as spoofed producers for the producer mutator.
            self.instances.update({p: ("%016x" % rng.getrandbits(64)).encode() for p in EVENT_PUBLISHERS})
            self.producer_names += [i for i in IDENTITIES if i not in self.producer_names]
        self.sequences = collections.Counter()
        self.year = time.strftime("%Y", time.gmtime()).encode()
        self.big = bytes(rng.getrandbits(8) for _ in range(4096)) * ((4 * max_bytes + 8192) // 4096 + 1)
        self.coverage = collections.Counter()
        self._build_seeds()
        self._build_tables()

    # -- seeds ------------------------------------------------------------------------------
    def _build_seeds(self):
        c, h, e = self.pb.crypto, self.pb.health, self.pb.events
        accounts = FZ_ACCOUNTS
        orders = [
            ("buy-market", dict(asset=c.BTC, side=c.BUY, type=c.MARKET, cash_value="100", time_in_force=c.IOC)),
            ("buy-limit-qty", dict(asset=c.BTC, side=c.BUY, type=c.LIMIT, quantity="0.001", limit_price="49000",
                                   time_in_force=c.MINUTES)),
            ("buy-limit-cash", dict(asset=c.ETH, side=c.BUY, type=c.LIMIT, cash_value="250", limit_price="2900",
                                    time_in_force=c.IOC)),
            ("sell-limit-gtc", dict(asset=c.BTC, side=c.SELL, type=c.LIMIT, quantity="0.001", limit_price="60000",
                                    time_in_force=c.GTC)),
            ("sell-market", dict(asset=c.ETH, side=c.SELL, type=c.MARKET, quantity="0.01", time_in_force=c.IOC)),
            ("sell-limit-day", dict(asset=c.BTC, side=c.SELL, type=c.LIMIT, quantity="0.0005", limit_price="55000",
                                    time_in_force=c.DAY)),
            ("buy-market-min", dict(asset=c.ETH, side=c.BUY, type=c.MARKET, cash_value="10", time_in_force=c.IOC)),
            ("buy-limit-tiny", dict(asset=c.BTC, side=c.BUY, type=c.LIMIT, quantity="0.00000001",
                                    limit_price="50000", time_in_force=c.MINUTES)),
        ]
        seeds = collections.defaultdict(list)

        def add(method, label, message):
            seeds[method].append((label, parse(message.SerializeToString())))

        for a in accounts:
            for label, o in orders:
                add(CRYPTO + "CheckOrder", "%s %s" % (label, a), c.OrderRequest(account_id=a, **o))
                add(CRYPTO + "PlaceOrder", "%s %s" % (label, a), c.OrderRequest(account_id=a, client_order_id="x", **o))
            add(CRYPTO + "CancelOrder", a, c.CancelOrderRequest(account_id=a, order_id="CO-0000000000000000"))
            add(CRYPTO + "GetAccountState", a, c.GetAccountStateRequest(account_id=a))
            add(CRYPTO + "RequestPermission", a, c.PermissionRequest(account_id=a))
            add(CRYPTO + "GetPermission", a, c.PermissionRequest(account_id=a))
            add(CRYPTO + "RequestTransfer", "withdrawal " + a, c.TransferRequest(account_id=a, asset=c.BTC,
                                                                                  quantity="1", direction="withdrawal"))
            add(CRYPTO + "RequestTransfer", "deposit " + a, c.TransferRequest(account_id=a, asset=c.ETH,
                                                                               quantity="0.5", direction="deposit"))
        # Never the current year: a custody charge for a month the guard held crypto in would
        # legitimately change the guard's cash.
        for month in ["2020-01", "1999-12", "2099-02", "2000-02", "1970-01"]:
            add(CRYPTO + "ChargeCustodyFees", month, c.CustodyFeeRequest(month=month))
        add(CRYPTO + "GetInfo", "empty", h.ServiceInfoRequest())
        for service in ["", "crypto-rules", "sls.crypto.v1.CryptoRules", "nobody"]:
            add(M_HEALTH, repr(service), h.HealthCheckRequest(service=service))
        for frm in [1, 2, 5]:
            add(M_REPLAY, "from %d" % frm, e.ReplayRequest(from_sequence=frm, limit=self.rng.randint(1, 5)))

        acc = self.pb.accounts
        profiles = {}
        for a in accounts:
            profiles[a] = account_profile(acc, a)
        ev = collections.defaultdict(list)

        def add_event(label, message):
            ev[message.DESCRIPTOR.full_name].append((label, parse(message.SerializeToString())))

        for a in accounts:
            add_event("opened " + a, acc.AccountOpened(account_id=a, user_name=a.lower(), opened_unix_ms=now_ms()))
            add_event("profile " + a, profiles[a])
            add_event("mobile " + a, account_mobile(acc, a))
            add_event("balance " + a, acc.AccountBalanceUpdated(account_id=a, total_equity="10000000", cash="1000000"))
            add_event("balance-small " + a, acc.AccountBalanceUpdated(account_id=a, total_equity="2000000",
                                                                       cash="50000"))
        for asset, prices in ((c.BTC, ["50000", "50100", "49900.5"]), (c.ETH, ["3000", "2990", "3010.25"])):
            for p in prices:
                add_event("price %s %s" % (c.Asset.Name(asset), p), c.MarkPriceUpdated(asset=asset, price=p))
        for q, p in (("0.001", "50000"), ("0.0001", "49000"), ("0.01", "3000")):
            add_event("fill %s@%s" % (q, p), c.VenueOrderFilled(order_id="CO-x", fill_id="f", quantity=q, price=p))
        for outcome in ("cancelled", "rejected"):
            add_event("closed " + outcome, c.VenueOrderClosed(order_id="CO-x", outcome=outcome, reason="venue says no"))
        add_event("heartbeat", e.ServiceHeartbeat(service="fz-heartbeat", version="1.0", started_unix_ms=now_ms(),
                                                  requests_served=1))
        self.request_seeds = dict(seeds)
        self.event_seeds = dict(ev)

    def _build_tables(self):
        weights = [(CRYPTO + "CheckOrder", 24), (CRYPTO + "PlaceOrder", 18), (CRYPTO + "CancelOrder", 8),
                   (CRYPTO + "GetAccountState", 12), (CRYPTO + "RequestPermission", 5),
                   (CRYPTO + "GetPermission", 5), (CRYPTO + "RequestTransfer", 5),
                   (CRYPTO + "ChargeCustodyFees", 2), (CRYPTO + "GetInfo", 4), (M_HEALTH, 9)]
        self.method_table = [m for m, w in weights for _ in range(w * 10)]
        ev_weights = [("sls.accounts.v1.AccountProfileUpdated", 15), ("sls.accounts.v1.AccountBalanceUpdated", 20),
                      ("sls.accounts.v1.MobileNumberUpdated", 5), ("sls.accounts.v1.AccountOpened", 3),
                      ("sls.crypto.v1.MarkPriceUpdated", 25), ("sls.crypto.v1.VenueOrderFilled", 20),
                      ("sls.crypto.v1.VenueOrderClosed", 12), ("sls.events.v1.ServiceHeartbeat", 8)]
        self.event_table = [t for t, w in ev_weights for _ in range(w)]
        self.count_table = [0] * 25 + [1] * 35 + [2] * 25 + [3] * 15
        common = [("string", 12, self.m_string), ("amount", 14, self.m_amount),
                  ("enum_negative", 7, self.m_enum_negative), ("enum_range", 4, self.m_enum_range),
                  ("int", 5, self.m_int), ("huge_varint", 4, self.m_huge_varint),
                  ("unknown_field", 4, self.m_unknown_field), ("wrong_wire_type", 4, self.m_wrong_wire_type),
                  ("duplicate_field", 3, self.m_duplicate_field), ("drop_field", 2, self.m_drop_field),
                  ("bad_field_key", 2, self.m_bad_field_key), ("bitflip", 8, self.m_bitflip),
                  ("truncate", 4, self.m_truncate), ("insert_bytes", 2, self.m_insert_bytes),
                  ("length_lie", 2, self.m_length_lie), ("frames", 4, self.m_frames)]
        request_only = [("method", 4, self.m_method), ("request_id", 3, self.m_request_id),
                        ("deadline", 4, self.m_deadline), ("header_string", 4, self.m_header_string),
                        ("metadata", 2, self.m_metadata)]
        event_only = [("producer", 6, self.m_producer), ("sequence", 6, self.m_sequence),
                      ("event_time", 4, self.m_event_time), ("event_type", 3, self.m_event_type),
                      ("topic", 3, self.m_topic), ("instance", 3, self.m_instance),
                      ("header_string", 3, self.m_header_string)]
        self.mutator_names = sorted({n for n, _, _ in common + request_only + event_only} | {"oversize", "lookalike"})
        unknown = self.disabled - set(self.mutator_names)
        if unknown:
            raise SystemExit("unknown mutator(s) for --disable: %s (known: %s)" % (
                ", ".join(sorted(unknown)), ", ".join(self.mutator_names)))
        self.request_mutators = [fn for n, w, fn in common + request_only if n not in self.disabled for _ in range(w)]
        self.event_mutators = [fn for n, w, fn in common + event_only if n not in self.disabled for _ in range(w)]

    # -- hostile values ---------------------------------------------------------------------
    def long_string(self, limit=None):
        r = self.rng.random()
        top = limit or self.max_bytes - 400
        n = self.rng.randint(1024, 8192) if r < 0.9 or top <= 8192 else self.rng.randint(8192, top)
        n = min(n, top)
        return (b"FZ-long-" * (n // 8 + 1))[:n], "overlong(%d B)" % n

    def hostile_string(self, kind, current):
        rng = self.rng
        r = rng.randrange(100)
        if kind == "account" and r < 6 and "lookalike" not in self.disabled:
            v = rng.choice(LOOKALIKE_GUARD)
            return v, "lookalike-of-guard %r" % v
        if kind == "account" and r < 14:
            v = rng.choice(FZ_ACCOUNTS).encode()
            return v, repr(v)
        if r < 26:
            base = current if isinstance(current, bytes) and current else b"FZ-A1"
            v = rng.choice([base + b"\x00someone-else", b"\x00" + base, base[:2] + b"\x00" + base[2:],
                            b"FZ-A1\x00FZ-A2", base + b"\x00"])
            return v, "nul %r" % v
        if r < 36:
            v = rng.choice(CONTROL_STRINGS)
            return v, "control %r" % v
        if r < 46:
            v = rng.choice(NEWLINE_STRINGS)
            return v, "newline %r" % v
        if r < 58:
            v = rng.choice(INVALID_UTF8)
            return v, "invalid-utf8 %r" % v
        if r < 66:
            v = rng.choice(UNICODE_STRINGS)
            return v, "unicode %r" % v
        if r < 74:
            v = rng.choice(INJECTION_STRINGS)
            return v, "injection %r" % v
        if r < 80:
            return b"", "empty"
        if r < 84:
            v = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
            return v, "random %s" % short(v)
        return self.long_string()

    def hostile_amount(self):
        rng = self.rng
        if rng.random() < 0.75:
            v = rng.choice(AMOUNTS)
            return v, "amount %s" % short(v, 60)
        whole = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 45)))
        frac = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 30)))
        v = (rng.choice(["", "", "-"]) + whole + ("." + frac if frac else "")).encode()
        return v, "amount %s (%d digits, %d decimals)" % (short(v, 80), len(whole), len(frac))

    def int_value(self, kind):
        rng = self.rng
        if kind == "time":
            return rng.choice(TIMES)
        if kind == "int64":
            return rng.choice(TIMES)
        if kind == "uint64":
            return rng.choice(UINT64S)
        if kind == "uint32":
            return rng.choice(UINT32S)
        if kind == "int32":
            return rng.choice(INT32S)
        return rng.choice(BOOLS)

    # -- structured mutations (payload unless said otherwise) --------------------------------
    def _target(self, inp):
        """(fields, schema, prefix): mostly the payload, sometimes the header."""
        if not inp.payload_mutations or self.rng.random() < 0.2:
            return inp.hdr, inp.hs, "header."
        return inp.pay, inp.ps, "payload."

    def m_string(self, inp):
        fields, schema, prefix = self._target(inp)
        if not schema.strings:
            return self.m_unknown_field(inp)
        num = self.rng.choice(schema.strings)
        val, label = self.hostile_string(schema.fields[num][1], get_field(fields, num, b""))
        set_field(fields, num, 2, val)
        if prefix == "header." and inp.kind == "request" and num == 1:
            inp.intact = False
        return "%s%s=%s" % (prefix, schema.label(num), label)

    def m_amount(self, inp):
        if not inp.payload_mutations or not inp.ps.by_kind["amount"]:
            return self.m_string(inp)
        num = self.rng.choice(inp.ps.by_kind["amount"])
        val, label = self.hostile_amount()
        set_field(inp.pay, num, 2, val)
        return "payload.%s=%s" % (inp.ps.label(num), label)

    def _enum(self, inp, values, label):
        if not inp.payload_mutations:
            return self.m_header_string(inp)
        nums = inp.ps.by_kind["enum"]
        value = self.rng.choice(values)
        if not nums:
            num = self.rng.choice(UNKNOWN_NUMBERS)
            inp.pay.append((num, 0, value))
            return "payload.unknown(%d)=varint %d (%s, %d-byte varint)" % (num, value, label, len(varint(value)))
        num = self.rng.choice(nums)
        self.coverage[(inp.ps.name, inp.ps.fields[num][0], label)] += 1
        if self.rng.random() < 0.5:
            set_field(inp.pay, num, 0, value)
            how = "set"
        else:
            inp.pay.append((num, 0, value))
            how = "appended"
        return "payload.%s %s %s enum %d (%d-byte varint)" % (inp.ps.label(num), how, label, value,
                                                              len(varint(value)))

    def m_enum_negative(self, inp):
        return self._enum(inp, NEGATIVE_ENUMS, "negative")

    def m_enum_range(self, inp):
        return self._enum(inp, RANGE_ENUMS, "out-of-range")

    def m_int(self, inp):
        fields, schema, prefix = self._target(inp)
        if not schema.ints:
            return self.m_huge_varint(inp)
        num = self.rng.choice(schema.ints)
        if inp.kind == "request" and prefix == "header." and num == 2:
            inp.intact = False
        value = self.int_value(schema.fields[num][1])
        set_field(fields, num, 0, value)
        return "%s%s=%d" % (prefix, schema.label(num), value)

    def m_huge_varint(self, inp):
        fields, schema, prefix = self._target(inp)
        value = self.rng.choice(HUGE_VARINTS)
        if schema.ints and self.rng.random() < 0.5:
            num = self.rng.choice(schema.ints)
            if inp.kind == "request" and prefix == "header." and num == 2:
                inp.intact = False
        else:
            num = self.rng.choice(UNKNOWN_NUMBERS)
        fields.append((num, 0, value))
        return "%sappended %s=varint %#x (10 bytes)" % (prefix, schema.label(num), value)

    def m_unknown_field(self, inp):
        fields, schema, prefix = self._target(inp)
        rng = self.rng
        num = rng.choice(UNKNOWN_NUMBERS)
        wt = rng.choice((0, 1, 2, 5))
        if wt == 0:
            val = rng.choice(HUGE_VARINTS + [0, 1, 300])
        elif wt == 1:
            val = bytes(rng.getrandbits(8) for _ in range(8))
        elif wt == 5:
            val = bytes(rng.getrandbits(8) for _ in range(4))
        else:
            val = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        fields.append((num, wt, val))
        return "%sunknown field %d wire type %d %s" % (prefix, num, wt, short(val) if wt else "%#x" % val)

    def m_wrong_wire_type(self, inp):
        fields, schema, prefix = self._target(inp)
        if not schema.numbers:
            return self.m_unknown_field(inp)
        rng = self.rng
        num = rng.choice(schema.numbers)
        right = schema.wire_type(num)
        wt = rng.choice([w for w in (0, 1, 2, 5) if w != right])
        val = {0: rng.choice(HUGE_VARINTS + [1]), 1: b"\xff" * 8, 5: b"\xff" * 4,
               2: rng.choice([b"", b"\x08\x01", b"\xff" * 10, b"abc"])}[wt]
        if rng.random() < 0.5:
            set_field(fields, num, wt, val)
        else:
            fields.append((num, wt, val))
        if inp.kind == "request" and prefix == "header.":
            inp.intact = False
        return "%s%s with wire type %d" % (prefix, schema.label(num), wt)

    def m_duplicate_field(self, inp):
        fields, schema, prefix = self._target(inp)
        if not fields:
            return self.m_unknown_field(inp)
        f = self.rng.choice(fields)
        fields.append(f)
        return "%sduplicated %s" % (prefix, schema.label(f[0]))

    def m_drop_field(self, inp):
        fields, schema, prefix = self._target(inp)
        if not fields:
            return self.m_unknown_field(inp)
        i = self.rng.randrange(len(fields))
        num = fields[i][0]
        del fields[i]
        if inp.kind == "request" and prefix == "header." and num in (1, 2):
            inp.intact = False
        return "%sdropped %s" % (prefix, schema.label(num))

    def m_bad_field_key(self, inp):
        fields, schema, prefix = self._target(inp)
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0:
            fields.append((0, 0, 1))
            what = "field number 0"
        elif choice == 1:
            fields.append((rng.choice(UNKNOWN_NUMBERS), 3, b""))
            what = "start-group without end"
        elif choice == 2:
            fields.append((rng.choice(UNKNOWN_NUMBERS), 4, b""))
            what = "end-group without start"
        elif choice == 3:
            fields.append((rng.choice(UNKNOWN_NUMBERS), rng.choice((6, 7)), b"\x01\x02"))
            what = "wire type 6/7"
        else:
            fields.append(((1 << 61) - 1, 0, 1))
            what = "field number 2^61-1"
        if inp.kind == "request" and prefix == "header.":
            inp.intact = False
        return "%s%s" % (prefix, what)

    # -- raw mutations, applied to the encoded bytes ------------------------------------------
    def _raw_target(self, inp):
        if not inp.payload_mutations or self.rng.random() < 0.3:
            if inp.kind == "request":
                inp.intact = False
            return "header"
        return "payload"

    def m_bitflip(self, inp):
        t = self._raw_target(inp)
        n = self.rng.randint(1, 8)
        inp.post.append((t, "flip", n))
        return "%s: %d bit flips" % (t, n)

    def m_truncate(self, inp):
        t = self._raw_target(inp)
        inp.post.append((t, "truncate", None))
        return "%s: truncated" % t

    def m_insert_bytes(self, inp):
        t = self._raw_target(inp)
        inp.post.append((t, "insert", self.rng.randint(1, 16)))
        return "%s: inserted random bytes" % t

    def m_length_lie(self, inp):
        t = self._raw_target(inp)
        declared = self.rng.choice([1000, 1 << 20, 1 << 31, U64, (1 << 32) + 3])
        num = self.rng.choice([1, 2, 4, 15])
        inp.post.append((t, "lie", (num, declared)))
        return "%s: field %d declares %d bytes, has 3" % (t, num, declared)

    def m_frames(self, inp):
        inp.frames_mode = self.rng.randrange(6 if inp.kind == "request" else 5)
        if inp.kind == "request":
            inp.intact = False
        return "frames mode %d" % inp.frames_mode

    # -- request header ------------------------------------------------------------------------
    def m_method(self, inp):
        if inp.kind != "request":
            return self.m_producer(inp)
        m = self.rng.choice(METHODS)
        set_field(inp.hdr, 1, 2, m)
        return "header.method=%s" % short(m, 60)

    def m_request_id(self, inp):
        v = self.rng.choice([0, U64, 1 << 63, self.rng.getrandbits(64)])
        set_field(inp.hdr, 2, 0, v)
        inp.intact = False
        return "header.request_id=%d" % v

    def m_deadline(self, inp):
        v = self.rng.choice(PAST_DEADLINES + [now_ms() - 1, now_ms() - 60000, INT64_MAX, YEAR_3000_MS])
        set_field(inp.hdr, 3, 0, v)
        return "header.deadline_unix_ms=%d" % v

    def m_header_string(self, inp):
        schema = inp.hs
        nums = [4, 5] if inp.kind == "request" else [1, 6, 7]
        num = self.rng.choice(nums)
        val, label = self.hostile_string("string", get_field(inp.hdr, num, b""))
        set_field(inp.hdr, num, 2, val)
        return "header.%s=%s" % (schema.label(num), label)

    def m_metadata(self, inp):
        rng = self.rng
        n = rng.choice([1, 2, 10, 100, 1000])
        key, klabel = self.hostile_string("string", b"k")
        val, vlabel = self.hostile_string("string", b"v")
        entry = encode([(1, 2, key), (2, 2, val)])
        if len(entry) * n > self.max_bytes:
            n = max(1, self.max_bytes // (len(entry) + 4) - 1)
        for _ in range(n):
            inp.hdr.append((6, 2, entry))
        return "header.metadata x%d key=%s value=%s" % (n, klabel, vlabel)

    # -- event header --------------------------------------------------------------------------
    def m_producer(self, inp):
        rng = self.rng
        r = rng.randrange(10)
        if r < 4:
            v = ("fz-pub-%08x" % rng.getrandbits(32)).encode()
            label = "new producer %r" % v
        elif r < 6:
            n = rng.choice([1024, 4096, 20480, rng.randint(1, 20480)])
            v = ("P%08x" % rng.getrandbits(32)).encode() * (n // 9 + 1)
            v = v[:n]
            label = "producer of %d B" % n
        elif r < 7:
            v = rng.choice(self.producer_names).encode()
            label = "producer %r" % v
        else:
            v, label = self.hostile_string("string", b"venue")
        set_field(inp.hdr, 2, 2, v)
        return "header.producer=%s" % label

    def m_sequence(self, inp):
        rng = self.rng
        cur = get_field(inp.hdr, 3, 0)
        cur = cur if isinstance(cur, int) else 0
        v = rng.choice([0, U64, 1 << 63, max(0, cur - rng.randint(1, 1000)), cur, cur + 1000000, 1])
        set_field(inp.hdr, 3, 0, v)
        return "header.sequence=%d (was %d)" % (v, cur)

    def m_event_time(self, inp):
        v = self.rng.choice(TIMES)
        set_field(inp.hdr, 4, 0, v)
        return "header.time_unix_ms=%d" % v

    def m_event_type(self, inp):
        v = self.rng.choice(list(self.pb.event_types) + ["", "sls.crypto.v1.OrderAccepted", inp.topic.decode() + "X"])
        set_field(inp.hdr, 5, 2, v.encode())
        return "header.type=%r (topic %r)" % (v, inp.topic)

    def m_topic(self, inp):
        rng = self.rng
        r = rng.randrange(4)
        if r == 0:
            other = rng.choice(list(self.pb.event_types)).encode()
            inp.topic = other
            set_field(inp.hdr, 5, 2, other)
            return "topic and header.type=%r with a %s payload" % (other, inp.ps.name)
        if r == 1:
            inp.topic = inp.topic + b"X"
            return "topic=%r (prefix of a subscription)" % inp.topic
        if r == 2:
            inp.topic = inp.topic + b"\x00"
            set_field(inp.hdr, 5, 2, inp.topic)
            return "topic and type with a trailing NUL"
        inp.topic = inp.topic[:-1]
        return "topic=%r (cut)" % inp.topic

    def m_instance(self, inp):
        v = ("%016x" % self.rng.getrandbits(64)).encode() if self.rng.random() < 0.8 else b""
        set_field(inp.hdr, 7, 2, v)
        return "header.producer_instance=%r" % v

    # -- building inputs -----------------------------------------------------------------------
    def _mutate(self, inp, table):
        for _ in range(self.count_table[self.rng.randrange(100)]):
            if not table:
                break
            inp.desc.append(self.rng.choice(table)(inp))

    def _apply_post(self, data, op, arg):
        rng = self.rng
        if op == "flip":
            if not data:
                return data
            b = bytearray(data)
            for _ in range(arg):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
            return bytes(b)
        if op == "truncate":
            return data[:rng.randrange(len(data))] if data else data
        if op == "insert":
            i = rng.randint(0, len(data))
            return data[:i] + bytes(rng.getrandbits(8) for _ in range(arg)) + data[i:]
        if op == "lie":
            num, declared = arg
            return data + varint((num << 3) | 2) + varint(declared) + b"abc"
        return data

    def _encode(self, inp):
        hdr = encode(inp.hdr)
        pay = encode(inp.pay)
        for target, op, arg in inp.post:
            if target == "header":
                hdr = self._apply_post(hdr, op, arg)
            else:
                pay = self._apply_post(pay, op, arg)
        return hdr, pay

    def request(self, request_id, deadline_ms):
        rng = self.rng
        self.counter += 1
        if rng.random() < 0.0003:
            method = M_REPLAY
        else:
            method = self.method_table[rng.randrange(len(self.method_table))]
        label, fields = rng.choice(self.request_seeds[method])
        pay = list(fields)
        short_method = method.rsplit("/", 1)[1]
        desc = ["%s seed %s" % (short_method, label)]
        if method == CRYPTO + "PlaceOrder":
            coid = b"fz-%d" % self.counter if rng.random() < 0.9 else b"fz-dup-%d" % rng.randrange(5)
            set_field(pay, 9, 2, coid)
            desc[0] += " client_order_id=%s" % coid.decode()
        elif method == CRYPTO + "CancelOrder":
            r = rng.random()
            if r < 0.05 and self.guard_order_id:
                oid = self.guard_order_id
                desc[0] += " order_id=<the guard's order> (another account's order)"
            elif r < 0.8 and self.order_pool:
                oid = self.order_pool[rng.randrange(len(self.order_pool))]
                desc[0] += " order_id=%s" % oid.decode()
            else:
                oid = ("CO-%016x" % rng.getrandbits(64)).encode()
                desc[0] += " order_id=%s (unknown)" % oid.decode()
            set_field(pay, 2, 2, oid)
        hdr = [(1, 2, method.encode()), (2, 0, request_id), (3, 0, deadline_ms),
               (4, 2, b"fz-%d" % self.counter), (5, 2, b"fuzz")]
        inp = Input("request", method, None, hdr, self.header_schema, pay, self.schemas[method], desc)
        if self.keys is not None:
            inp.identity = self.keys.caller(method, REQUEST_CALLERS)
        if method == M_REPLAY and rng.random() < 0.95:
            inp.payload_mutations = False   # keep the replay small
        self._mutate(inp, self.request_mutators)
        if "oversize" not in self.disabled:
            r = rng.random()
            if r < 0.002:
                inp.oversize = "over"
            elif r < 0.0022:
                inp.oversize = "4x"
            elif r < 0.004:
                inp.oversize = "under"
        hdr_b, pay_b = self._encode(inp)
        if method == CRYPTO + "ChargeCustodyFees" and self.year in pay_b:
            pay_b = encode(fields)   # see _build_seeds: never a month of this year
            inp.desc.append("(payload reverted: it named this year)")
        if inp.oversize:
            room = self.max_bytes - len(hdr_b) - len(pay_b)
            if inp.oversize == "over":
                extra = max(1, room + rng.randint(1, 64))
            elif inp.oversize == "4x":
                extra = 4 * self.max_bytes
            else:
                extra = max(0, room - 8 - rng.randint(0, 64))
            pad = varint((15 << 3) | 2) + varint(extra) + self.big[:extra]
            pay_b += pad
            inp.desc.append("oversize %s: payload padded to %d B (header %d B, limit %d B)" % (
                inp.oversize, len(pay_b), len(hdr_b), self.max_bytes))
        frames = self._frames(inp, [hdr_b, pay_b])
        return frames, inp

    def _frames(self, inp, frames):
        mode = inp.frames_mode
        if mode is None:
            return frames
        rng = self.rng
        if inp.kind == "request":
            hdr, pay = frames
            if mode == 0:
                out = [b""]                        # zmq cannot send 0 frames: one empty frame
            elif mode == 1:
                out = [rng.choice([hdr, hdr + pay, b""])]
            elif mode == 2:
                out = rng.choice([[b"", pay], [hdr, b""], [pay, hdr], [b"", b""]])
            else:
                out = [hdr, pay] + [rng.choice([b"", pay, hdr, b"\x00" * 7]) for _ in range(mode - 2)]
            inp.desc.append("sent as %d frame(s) of %s bytes" % (len(out), [len(f) for f in out]))
            return out
        topic, hdr, pay = frames
        count = mode + 1                           # 1..5 frames
        if count == 3:
            out = rng.choice([[topic, b"", pay], [topic, hdr, b""], [topic, pay, hdr]])
        elif count < 3:
            out = [topic, hdr + pay] if count == 2 else [topic]
        else:
            out = [topic, hdr, pay] + [rng.choice([b"", pay]) for _ in range(count - 3)]
        inp.desc.append("sent as %d frame(s)" % len(out))
        return out

    def event(self):
        rng = self.rng
        self.counter += 1
        topic = self.event_table[rng.randrange(len(self.event_table))]
        label, fields = rng.choice(self.event_seeds[topic])
        pay = list(fields)
        desc = ["%s seed %s" % (topic.rsplit(".", 1)[1], label)]
        if topic in ("sls.crypto.v1.VenueOrderFilled", "sls.crypto.v1.VenueOrderClosed"):
            if self.order_pool and rng.random() < 0.85:
                oid = self.order_pool[rng.randrange(len(self.order_pool))]
            else:
                oid = ("CO-%016x" % rng.getrandbits(64)).encode()
            set_field(pay, 1, 2, oid)
            desc[0] += " order_id=%s" % oid.decode()
            if topic == "sls.crypto.v1.VenueOrderFilled":
                fid = b"fz-fill-%d" % self.counter if rng.random() < 0.95 else b"fz-fill-dup"
                set_field(pay, 2, 2, fid)
        producer = PRODUCERS[rng.randrange(3)]
        identity = None
        if self.keys is not None:
            # Published from the PUB of the identity that may publish it, as that producer.
            identity = producer = self.keys.publisher(topic)
        self.sequences[producer] += 1
        seq = self.sequences[producer]
        hdr = [(1, 2, b"%s/%d" % (producer.encode(), seq)), (2, 2, producer.encode()), (3, 0, seq),
               (4, 0, now_ms()), (5, 2, topic.encode()), (6, 2, b"fz-%d" % self.counter),
               (7, 2, self.instances[producer])]
        inp = Input("event", None, topic.encode(), hdr, self.event_header_schema, pay, self.schemas[topic], desc)
        inp.identity = identity
        self._mutate(inp, self.event_mutators)
        hdr_b, pay_b = self._encode(inp)
        if "oversize" not in self.disabled and rng.random() < 0.001:
            extra = rng.choice([self.max_bytes + 1, 2 * self.max_bytes, 4 * self.max_bytes])
            pay_b += varint((15 << 3) | 2) + varint(extra) + self.big[:extra]
            inp.desc.append("oversize event: payload %d B" % len(pay_b))
        frames = self._frames(inp, [inp.topic, hdr_b, pay_b])
        return frames, inp


def account_profile(acc, account):
    """The FZ accounts' profiles (sls.accounts.v1): mostly eligible, a few not (coverage of the
    refusals). FZ-A9's mobile number is not verified (see account_mobile)."""
    if account == "FZ-A7":
        return acc.AccountProfileUpdated(account_id=account, hong_kong_resident=True, professional_investor=True,
                                         investor_type=acc.INSTITUTION, assets_hkd="50000000")
    if account == "FZ-A8":
        return acc.AccountProfileUpdated(account_id=account, hong_kong_resident=True, professional_investor=False,
                                         investor_type=acc.INDIVIDUAL, assets_hkd="9000000")
    return acc.AccountProfileUpdated(account_id=account, hong_kong_resident=True, professional_investor=True,
                                     investor_type=acc.INDIVIDUAL, assets_hkd="9000000")


def account_mobile(acc, account):
    """The mobile number of an account (ACC-03): verified, except FZ-A9's (coverage of that refusal)."""
    number = "+8529%07d" % sum(account.encode())
    return acc.MobileNumberUpdated(account_id=account, mobile_number=number, verified=account != "FZ-A9")


# ---------------------------------------------------------------------------------------------
# Bus security: the keyring, the policy and the CurveZMQ settings of the campaign's sockets

def read_key_file(path):
    """The `name = value` lines of a key file made by slsctl (whole-line `#` comments; Z85
    keys may contain '#' and '=', so a line is split at its first '=' only)."""
    fields = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, value = line.partition("=")
            fields[name.strip()] = value.strip()
    return fields


class BusPolicy:
    """The bus policy file (compose/bus-policy.yaml), decided the way the services decide it
    (Shared/SLSBus/Security/BusPolicy.swift): a full name, "package.Service/*", "package.*" or
    "*"; "*" as an identity is every admitted identity; nothing is allowed unless a rule says so."""

    def __init__(self, path):
        import yaml
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f) or {}
        self.path = path
        self.sections = {name: {str(k): [str(i) for i in (v or [])] for k, v in (document.get(name) or {}).items()}
                         for name in ("methods", "publish", "subscribe")}

    @staticmethod
    def matches(pattern, name, separator):
        if pattern == "*":
            return True
        if pattern.endswith(separator + "*"):
            return name.startswith(pattern[:-1])
        return pattern == name

    def _allowed(self, section, identity, name, separator):
        return any((identity in ids or "*" in ids) and self.matches(pattern, name, separator)
                   for pattern, ids in self.sections[section].items())

    def may_call(self, identity, method):
        return self._allowed("methods", identity, method, "/")

    def may_publish(self, identity, type_name):
        return self._allowed("publish", identity, type_name, ".")

    def may_read(self, identity, type_name):
        return self._allowed("subscribe", identity, type_name, ".")

    def subscription_covered(self, identity, prefix):
        """The first half of the bus's rule for a subscription (every type the prefix can match
        must be readable); False means the bus refuses it whatever else holds."""
        for pattern, ids in self.sections["subscribe"].items():
            if identity not in ids and "*" not in ids:
                continue
            if pattern == "*" or (pattern.endswith(".*") and prefix.startswith(pattern[:-1])) or prefix == pattern:
                return True
        return False


class BusKeys:
    """The campaign's keyring in its work folder, made once by `slsctl keys create`, the policy,
    and the CurveZMQ client settings of every socket the campaign opens."""

    def __init__(self, bin_dir, keyring, policy_path):
        self.keyring = keyring
        self.policy_path = os.path.abspath(policy_path)
        os.makedirs(os.path.dirname(keyring), exist_ok=True)   # slsctl does not make parent folders
        cmd = [os.path.join(bin_dir, "slsctl"), "keys", "create", "--keyring", keyring] + IDENTITIES
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError("%s failed (exit %d): %s" % (" ".join(cmd), done.returncode,
                                                           done.stdout.decode("utf-8", "replace").strip()[-2000:]))
        self.public_dir = os.path.join(keyring, "public")
        self.secret_dir = os.path.join(keyring, "secret")
        self.public, self.secret = {}, {}
        for identity in IDENTITIES:
            pub = read_key_file(os.path.join(self.public_dir, identity + ".pub"))
            sec = read_key_file(self.key_file(identity))
            if pub.get("identity") != identity or sec.get("identity") != identity or "secret-key" not in sec:
                raise RuntimeError("keyring %s: unexpected key files for %s" % (keyring, identity))
            self.public[identity] = pub["public-key"].encode()
            self.secret[identity] = sec["secret-key"].encode()
        self.policy = BusPolicy(self.policy_path)

    def key_file(self, identity):
        return os.path.join(self.secret_dir, identity + ".key")

    def server_args(self, identity):
        return ["--key-file", self.key_file(identity), "--public-keys", self.public_dir, "--policy", self.policy_path]

    def secure(self, sock, identity, server):
        """Makes `sock` a CurveZMQ client of `server` with `identity`'s key pair."""
        sock.curve_serverkey = self.public[server]
        sock.curve_publickey = self.public[identity]
        sock.curve_secretkey = self.secret[identity]

    def caller(self, method, prefer=REQUEST_CALLERS):
        """The first identity of `prefer` the policy lets call `method` (else the first one:
        its calls get PERMISSION_DENIED)."""
        return next((i for i in prefer if self.policy.may_call(i, method)), prefer[0])

    def publisher(self, type_name):
        """The identity whose PUB carries valid events of `type_name` (the first of
        EVENT_PUBLISHERS the policy lets publish it; else "accounts", and the bus drops them)."""
        return next((i for i in EVENT_PUBLISHERS if self.policy.may_publish(i, type_name)), EVENT_PUBLISHERS[0])


def make_socket(ctx, kind, keys=None, identity=None, server="crypto-rules"):
    """A socket with LINGER 0; a CurveZMQ client as `identity` when there are keys (and an identity)."""
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if keys is not None and identity is not None:
        keys.secure(sock, identity, server)
    return sock


HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
                    zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED)


def handshake_events(monitor):
    """(failed, succeeded) handshakes reported so far by a socket monitor (non-blocking)."""
    from zmq.utils.monitor import recv_monitor_message
    failed = succeeded = 0
    while True:
        try:
            event = recv_monitor_message(monitor, zmq.NOBLOCK)["event"]
        except zmq.Again:
            return failed, succeeded
        except (zmq.ZMQError, ValueError, KeyError):
            return failed, succeeded
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            succeeded += 1
        elif event & HANDSHAKE_EVENTS:
            failed += 1


# ---------------------------------------------------------------------------------------------
# The stack: event bus and crypto-rules

def free_port_base(count):
    sysrand = random.SystemRandom()
    for _ in range(50):
        base = sysrand.randint(20000, 32000 - count)
        ok = True
        for p in range(base, base + count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return base
    raise SystemExit("no free loopback ports found in 20000-32000")


def read_rss_mb(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def weekend_clock_offset():
    """Seconds to shift the service's clock when New York is in (or near) the weekend window
    (Friday 16:00 to Sunday 03:00, buys refused): the guard has to buy once."""
    try:
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo
    except ImportError:
        return 0
    ny = datetime.now(ZoneInfo("America/New_York"))
    minutes = ny.weekday() * 1440 + ny.hour * 60 + ny.minute      # Monday 00:00 = 0
    start, end = 4 * 1440 + 15 * 60, 6 * 1440 + 4 * 60              # Fri 15:00 .. Sun 04:00 (margin)
    if not start <= minutes < end:
        return 0
    monday = (ny + timedelta(days=7 - ny.weekday())).replace(hour=10, minute=0, second=0, microsecond=0)
    return int((monday - ny).total_seconds())


class Stack:
    def __init__(self, bin_dir, workdir, max_bytes, extra_args, backtraces, clock_offset, keys=None):
        """keys: the BusKeys both processes and every client use; None runs them --insecure."""
        self.bin_dir, self.workdir = bin_dir, workdir
        self.keys = keys
        self.max_bytes, self.extra_args = max_bytes, list(extra_args)
        self.clock_offset = clock_offset
        base = free_port_base(4)
        self.ports = dict(bus=base, publishers=base + 1, subscribers=base + 2, crypto=base + 3)
        self.data_dir = os.path.join(workdir, "crypto-rules-data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.env = dict(os.environ)
        # Bus security comes from the command line only (SLS_INSECURE=1 would turn it off).
        for variable in ("SLS_INSECURE", "SLS_KEY_FILE", "SLS_PUBLIC_KEYS", "SLS_POLICY"):
            self.env.pop(variable, None)
        self.env.update(SLS_EVENTS_PUBLISH=self.endpoint("publishers"), SLS_EVENTS_SUBSCRIBE=self.endpoint("subscribers"),
                        SLS_HEARTBEAT_SECONDS="1", SLS_LOG_LEVEL="info")
        if not backtraces:
            self.env["SWIFT_BACKTRACE"] = "enable=no"
        self.procs = {}
        self.logs = {}
        self.log_offsets = {}
        self.starts = collections.Counter()

    def endpoint(self, name):
        return "tcp://127.0.0.1:%d" % self.ports[name]

    def security_args(self, name):
        return self.keys.server_args(SERVER_IDENTITY[name]) if self.keys is not None else ["--insecure"]

    def command(self, name):
        if name == "sls-event-bus":
            return [os.path.join(self.bin_dir, name), "--listen", self.endpoint("bus"),
                    "--events-publish", self.endpoint("publishers"),
                    "--events-subscribe", self.endpoint("subscribers")] + self.security_args(name)
        cmd = [os.path.join(self.bin_dir, name), "--listen", self.endpoint("crypto"), "--data-dir", self.data_dir,
               "--max-message-bytes", str(self.max_bytes)] + self.security_args(name)
        if self.clock_offset:
            cmd += ["--clock-offset-seconds", str(self.clock_offset)]
        return cmd + self.extra_args

    def start(self, name):
        log = os.path.join(self.workdir, name + ".log")
        self.logs[name] = log
        with open(log, "ab") as f:
            if self.starts[name]:
                f.write(b"==== fuzz_campaign: restart %d ====\n" % self.starts[name])
            self.log_offsets[name] = f.tell()
            self.procs[name] = subprocess.Popen(self.command(name), stdout=f, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, env=self.env)
        self.starts[name] += 1

    def pid(self, name="sls-crypto-rules"):
        return self.procs[name].pid

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def log_since_start(self, name, limit=512 * 1024):
        try:
            with open(self.logs[name], "rb") as f:
                f.seek(0, 2)
                end = f.tell()
                start = max(self.log_offsets.get(name, 0), end - limit)
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, name, lines=30):
        text = self.log_since_start(name, 256 * 1024)
        out = text.splitlines()[-lines:]
        return "\n".join(l if len(l) <= 400 else l[:400] + "...(%d chars)" % len(l) for l in out)

    def stop(self, name, sig=signal.SIGTERM, wait=10.0):
        p = self.procs.get(name)
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        return p.returncode

    def stop_all(self):
        codes = {}
        for name in ("sls-crypto-rules", "sls-event-bus"):
            if name in self.procs:
                codes[name] = self.stop(name)
        return codes


def describe_exit(code):
    if code is None:
        return "still running"
    if code < 0:
        try:
            return "signal %d (%s)" % (-code, signal.Signals(-code).name)
        except ValueError:
            return "signal %d" % -code
    return "exit status %d" % code


CRASH_MARKERS = ("Fatal error", "Program crashed", "Precondition failed", "Assertion failed", "fatal error:",
                 "Swift runtime failure", "*** Signal ")


def crash_site(log_text):
    """A signature of a crash from the service's log: the fatal message and the first frame of
    the crashed thread that is in our own code."""
    message = ""
    for line in log_text.splitlines():
        if "Fatal error" in line or "Precondition failed" in line or "Assertion failed" in line:
            message = line.strip()
            break
    frame = ""
    m = re.search(r'Thread \d+ "[^"]*" crashed:\n\n(.*?)(?:\n\n|\Z)', log_text, re.S)
    if m:
        for line in m.group(1).splitlines():
            if " at /" in line and "/<compiler-generated>" not in line:
                frame = re.sub(r"^\s*\d+\s+(\[[a-z]+\]\s*)*0x[0-9a-f]+\s+", "", line.strip())
                frame = re.sub(r" \+ \d+ in [^ ]+ at ", " at ", frame)
                break
    if not message:
        m2 = (re.search(r"\*\*\* (Swift runtime failure: [^*]+?) \*\*\*", log_text) or
              re.search(r"\*\*\* Program crashed: ([^*]+) at 0x", log_text))
        message = m2.group(1).strip() if m2 else ""
    return message, frame


def crash_excerpt(log_text, before=12, frames=16):
    """The log lines just before the fatal message, the message, and the crashed thread's top
    frames; the last 30 lines when there is no fatal message."""
    lines = log_text.splitlines()
    at = next((i for i, l in enumerate(lines) if any(m in l for m in CRASH_MARKERS)), None)
    if at is None:
        out = lines[-30:]
    else:
        out = lines[max(0, at - before):at + 1]
        m = re.search(r'Thread \d+ "[^"]*" crashed:\n\n(.*?)(?:\n\n|\Z)', log_text, re.S)
        if m:
            out += ["(crashed thread)"] + m.group(1).splitlines()[:frames]
    return "\n".join(l if len(l) <= 300 else l[:300] + "...(%d chars)" % len(l) for l in out)


# ---------------------------------------------------------------------------------------------
# Synchronous calls and account preparation

class Client:
    """Blocking calls (checks, preparation, replay). With bus security, one DEALER per identity
    it calls as: per method the first identity of `prefer` the policy lets call it."""

    def __init__(self, ctx, pb, endpoint, keys=None, server="crypto-rules", prefer=CHECK_CALLERS):
        self.ctx, self.pb, self.endpoint = ctx, pb, endpoint
        self.keys, self.server, self.prefer = keys, server, prefer
        self.socks = {}
        self.next_id = 1
        self.sock_for(self.default_identity())

    def default_identity(self):
        return None if self.keys is None else self.prefer[0]

    def identity_for(self, method):
        return None if self.keys is None else self.keys.caller(method, self.prefer)

    def sock_for(self, identity):
        if self.keys is None:
            identity = None
        sock = self.socks.get(identity)
        if sock is None:
            sock = make_socket(self.ctx, zmq.DEALER, self.keys, identity, self.server)
            sock.connect(self.endpoint)
            self.socks[identity] = sock
        return sock

    def close(self):
        for sock in self.socks.values():
            sock.close(0)
        self.socks.clear()

    def call_raw(self, frames, request_id, timeout, identity=None):
        """Sends frames (as `identity`, default the first preferred one); returns (ReplyHeader,
        payload) with that request id, or None on timeout."""
        sock = self.sock_for(identity or self.default_identity())
        deadline = time.monotonic() + timeout
        try:
            sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            # No connection to queue it on (yet): bounded, like everything else here.
            if not sock.poll(int(timeout * 1000) + 1, zmq.POLLOUT):
                return None
            try:
                sock.send_multipart(frames, zmq.NOBLOCK)
            except zmq.Again:
                return None
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(int(left * 1000) + 1):
                return None
            reply = sock.recv_multipart()
            if len(reply) != 2:
                continue
            try:
                rh = self.pb.envelope.ReplyHeader.FromString(reply[0])
            except Exception:
                continue
            if request_id is None or rh.request_id == request_id:
                return rh, reply[1]

    def call(self, method, message, timeout=CHECK_TIMEOUT):
        """(status code, decoded response or None); raises TimeoutError."""
        rid = self.next_id
        self.next_id += 1
        header = self.pb.envelope.RequestHeader(method=method, request_id=rid, deadline_unix_ms=0,
                                                trace_id="fz-check-%d" % rid, caller="fuzz-check")
        got = self.call_raw([header.SerializeToString(), message.SerializeToString()], rid, timeout,
                            self.identity_for(method))
        if got is None:
            raise TimeoutError("no reply to %s within %.1f s" % (method, timeout))
        rh, payload = got
        if rh.status.code != 0:
            return rh.status.code, rh.status
        return 0, self.pb.methods[method][1].FromString(payload)


class Publisher:
    """The campaign's PUB sockets to the bus. With bus security one per publishing identity
    (opened on first use; "accounts" and "venue-gateway" at once), each event's producer being
    that identity; without, one socket and `producer` ("fuzz-marker"), as before."""

    def __init__(self, ctx, pb, endpoint, producer, keys=None):
        self.ctx, self.pb, self.endpoint, self.keys = ctx, pb, endpoint, keys
        self.producer = producer
        self.instance = "%016x" % random.SystemRandom().getrandbits(64)
        # Per producer: its sequence and instance. The campaign shares the generator's, so that
        # the valid events of one producer (seeds, markers, preparation) form one stream.
        self.sequences = collections.Counter()
        self.instances = {}
        self.socks = {}
        for identity in ([None] if keys is None else EVENT_PUBLISHERS):
            self.socket(identity)

    def identity_for(self, type_name):
        return None if self.keys is None else self.keys.publisher(type_name)

    def socket(self, identity):
        """The PUB of `identity` (None without security)."""
        if self.keys is None:
            identity = None
        sock = self.socks.get(identity)
        if sock is None:
            sock = make_socket(self.ctx, zmq.PUB, self.keys, identity, "event-bus")
            sock.setsockopt(zmq.SNDHWM, 100000)
            sock.connect(self.endpoint)
            self.socks[identity] = sock
        return sock

    def frames(self, message, identity=None, producer=None, event_id=None, sequence=None, instance=None):
        """An event's frames; its producer is the publishing identity unless `producer` says
        otherwise (then give `sequence` and `instance`, to leave the real producer's stream alone)."""
        producer = producer if producer is not None else (identity or self.producer)
        if sequence is None:
            self.sequences[producer] += 1
            sequence = self.sequences[producer]
        if instance is None:
            instance = self.instances.get(producer, self.instance)
            instance = instance.decode() if isinstance(instance, bytes) else instance
        name = message.DESCRIPTOR.full_name
        header = self.pb.events.EventHeader(event_id=event_id or "%s/%d" % (producer, sequence), producer=producer,
                                            sequence=sequence, time_unix_ms=now_ms(), type=name,
                                            producer_instance=instance)
        return [name.encode(), header.SerializeToString(), message.SerializeToString()]

    def publish(self, message):
        identity = self.identity_for(message.DESCRIPTOR.full_name)
        self.socket(identity).send_multipart(self.frames(message, identity))

    def close(self):
        for sock in self.socks.values():
            sock.close(0)
        self.socks.clear()


def guard_view(state):
    """What belongs to the account and must not change while other accounts are fuzzed.
    Left out: holdings_used and each position's market_value, which follow the mark prices
    (fuzzed MarkPriceUpdated events legitimately move them). month_volume would change only
    when a run crosses a month boundary (New York time)."""
    return {
        "account_id": state.account_id, "permission_granted": state.permission_granted,
        "mobile_verified": state.mobile_verified, "cash": state.cash, "available_cash": state.available_cash,
        "total_equity": state.total_equity, "holdings_cap": state.holdings_cap, "month_volume": state.month_volume,
        "positions": sorted((p.asset, p.quantity, p.pending_sell_quantity) for p in state.positions),
        "open_orders": sorted((o.order_id, o.account_id, o.asset, o.side, o.type, o.quantity, o.cash_value,
                               o.limit_price, o.time_in_force, o.status, o.filled_quantity, o.reserved_cash,
                               o.accepted_unix_ms, o.expires_unix_ms, o.client_order_id, o.close_reason)
                              for o in state.open_orders),
    }


def wait_serving(stack, ctx, pb, name, timeout=20.0):
    endpoint = stack.endpoint("bus" if name == "sls-event-bus" else "crypto")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not stack.alive(name):
            return False
        client = Client(ctx, pb, endpoint, stack.keys, SERVER_IDENTITY[name])
        try:
            code, resp = client.call(M_HEALTH, pb.health.HealthCheckRequest(), timeout=0.5)
            if code == 0 and resp.status == pb.health.SERVING:
                return True
        except TimeoutError:
            pass
        finally:
            client.close()
        time.sleep(0.1)
    return False


class Preparer:
    """Puts accounts into the service through the bus, like the end-to-end tests do."""

    def __init__(self, ctx, pb, stack, publisher):
        self.ctx, self.pb, self.stack, self.pub = ctx, pb, stack, publisher
        self.c = pb.crypto
        self.acc = pb.accounts

    def client(self):
        # RequestPermission and PlaceOrder are the portal's (customers' requests).
        return Client(self.ctx, self.pb, self.stack.endpoint("crypto"), self.stack.keys, prefer=REQUEST_CALLERS)

    def wait_for(self, client, account, predicate, republish, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() - last > 0.3:
                republish()
                last = time.monotonic()
            code, state = client.call(CRYPTO + "GetAccountState", self.c.GetAccountStateRequest(account_id=account))
            if code == 0 and predicate(state):
                return state
            time.sleep(0.03)
        raise RuntimeError("account %s did not reach the expected state within %.0f s" % (account, timeout))

    def prices(self):
        self.pub.publish(self.c.MarkPriceUpdated(asset=self.c.BTC, price="50000"))
        self.pub.publish(self.c.MarkPriceUpdated(asset=self.c.ETH, price="3000"))

    def account(self, client, account, profile, mobile, equity="10000000", cash="1000000"):
        def republish():
            self.pub.publish(profile)
            self.pub.publish(mobile)
            self.pub.publish(self.acc.AccountBalanceUpdated(account_id=account, total_equity=equity, cash=cash))
            self.prices()
        self.wait_for(client, account, lambda s: s.total_equity == equity and s.cash == cash
                      and s.mobile_verified == mobile.verified, republish)
        code, reply = client.call(CRYPTO + "RequestPermission", self.c.PermissionRequest(account_id=account))
        if code != 0:
            raise RuntimeError("RequestPermission for %s failed: %s" % (account, reply))
        return reply

    def with_position_and_order(self, client, account):
        """Buys 0.1 BTC (filled through a VenueOrderFilled event), then rests a SELL LIMIT GTC
        order for 0.05 BTC far above the market. Returns the resting order's id."""
        c = self.c
        self.prices()
        code, buy = client.call(CRYPTO + "PlaceOrder", c.OrderRequest(
            account_id=account, asset=c.BTC, side=c.BUY, type=c.LIMIT, quantity="0.1", limit_price="50000",
            time_in_force=c.MINUTES, client_order_id=account + "-buy"))
        if code != 0:
            raise RuntimeError("%s: the buy was refused: %s" % (account, buy))
        fill = c.VenueOrderFilled(order_id=buy.order_id, fill_id=account + "-fill-1", quantity="0.1", price="50000")
        self.wait_for(client, account, lambda s: any(p.asset == c.BTC and p.quantity == "0.1" for p in s.positions),
                      lambda: self.pub.publish(fill))
        code, sell = client.call(CRYPTO + "PlaceOrder", c.OrderRequest(
            account_id=account, asset=c.BTC, side=c.SELL, type=c.LIMIT, quantity="0.05", limit_price="1000000",
            time_in_force=c.GTC, client_order_id=account + "-sell"))
        if code != 0 or sell.status != c.OPEN:
            raise RuntimeError("%s: the resting sell was refused: %s" % (account, sell))
        return sell.order_id

    def all(self):
        """Prepares every account; returns the guard's order id."""
        client = self.client()
        try:
            acc = self.acc
            guard_profile = acc.AccountProfileUpdated(account_id=GUARD, hong_kong_resident=True,
                                                      professional_investor=True, investor_type=acc.INDIVIDUAL,
                                                      assets_hkd="9000000")
            guard_mobile = acc.MobileNumberUpdated(account_id=GUARD, mobile_number="+85291234567", verified=True)
            self.account(client, GUARD, guard_profile, guard_mobile)
            guard_order = self.with_position_and_order(client, GUARD)
            for a in FZ_ACCOUNTS:
                self.account(client, a, account_profile(acc, a), account_mobile(acc, a))
            slow_profile = account_profile(acc, SLOW_ACCOUNT)
            self.account(client, SLOW_ACCOUNT, slow_profile, account_mobile(acc, SLOW_ACCOUNT))
            self.with_position_and_order(client, SLOW_ACCOUNT)
            return guard_order
        finally:
            client.close()


# ---------------------------------------------------------------------------------------------
# The campaign

class Dealer:
    def __init__(self, ctx, endpoint, index, routing_id=None, keys=None, identity=None):
        self.index = index
        self.identity = identity            # the key it calls with (None without bus security)
        self.sock = make_socket(ctx, zmq.DEALER, keys, identity, "crypto-rules")
        self.sock.setsockopt(zmq.SNDHWM, 10000)
        self.sock.setsockopt(zmq.RCVHWM, 10000)
        if routing_id:
            self.sock.setsockopt(zmq.ROUTING_ID, routing_id)
        self.sock.connect(endpoint)
        self.inflight = 0
        self.sent = collections.deque()     # input indexes of requests without a reply yet (about FIFO)
        self.pending = {}                   # request id -> method, for requests whose header is intact
        self.last_reply = time.monotonic()
        self.requests = 0


class Campaign:
    def __init__(self, args, pb, workdir, report_dir):
        self.args, self.pb, self.workdir, self.report_dir = args, pb, workdir, report_dir
        self.seed = args.seed
        self.rng = random.Random(self.seed)
        self.ctx = zmq.Context()
        self.clock_offset = weekend_clock_offset()
        # Bus security: one keyring per campaign, made before any process starts.
        self.keys = None if args.insecure else BusKeys(args.bin_dir, os.path.join(workdir, "keyring"), args.policy)
        self.stack = Stack(args.bin_dir, workdir, args.max_message_bytes, args.extra_service_arg,
                           not args.no_backtraces, self.clock_offset, self.keys)
        self.gen = Generator(pb, self.rng, args.max_message_bytes, args.disable, self.keys)
        if self.keys is None:
            self.dealer_ids = [None] * DEALERS
        else:
            # Four DEALERs as the identity of the customer methods, one per other identity needed.
            primary = self.keys.caller(CRYPTO + "CheckOrder", REQUEST_CALLERS)
            others = sorted({self.keys.caller(m, REQUEST_CALLERS) for m in pb.methods} - {primary})
            self.dealer_ids = [primary] * DEALERS + others
        self.hostile_rng = random.Random(self.seed ^ 0x5EC0)
        self.hostile_open = []              # hostile connections being watched
        self.hostile_counter = 0
        self.hostile_subs = []              # subscribers (dicts: label, sock, monitor, ...) that must get nothing
        self.observer = None                # "operations" SUB reading what the bus forwards
        self.observed = collections.Counter()
        self.leaks = []
        self.requests_by_identity = collections.Counter()
        self.last_hostile_input = 0
        self.findings = []
        self.counts = collections.Counter()
        self.site_counts = collections.Counter()
        self.by_status = collections.Counter()
        self.history = collections.deque(maxlen=args.check_every + DEALERS * WINDOW + 4 * MARKER_EVERY + 4096)
        self.n_inputs = 0
        self.sent_requests = 0
        self.sent_events = 0
        self.replies = 0
        self.bad_replies = 0
        self.undecodable_ok = 0
        self.unanswered = 0
        self.abandoned = 0
        self.request_id = 0
        self.since_check = 0
        self.checks = 0
        self.rss_peak = 0.0
        self.guard_state = None
        self.guard_order_id = ""
        self.marker_value = 0
        self.marker_pending = {}            # marker value -> input index when published
        self.events_confirmed_index = 0     # events before this input index were processed
        self.last_marker_event_count = 0
        self.time_limit_hit = False
        self.aborted = None
        self.restart_failures = 0
        self.last_good_check_index = 0
        self.setup_seconds = 0.0
        self.fuzz_seconds = 0.0
        self.rss_start = self.rss_after_fuzz = self.rss_warm = 0.0
        self.rss_start_pid = None
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.time_limit

    # -- infrastructure ------------------------------------------------------------------------
    def log(self, text):
        print(text, flush=True)

    def start_stack(self):
        for name in ("sls-event-bus", "sls-crypto-rules"):
            self.stack.start(name)
            if not wait_serving(self.stack, self.ctx, self.pb, name):
                self.log("FUZZ setup failed: %s did not start serving (%s)" % (
                    name, describe_exit(self.stack.procs[name].poll())))
                for n in ("sls-event-bus", "sls-crypto-rules"):
                    if n in self.stack.logs:
                        self.log("---- last 30 lines of %s ----\n%s" % (self.stack.logs[n], self.stack.tail(n, 30)))
                return False
        return True

    def open_sockets(self):
        self.pub = Publisher(self.ctx, self.pb, self.stack.endpoint("publishers"), "fuzz-marker", self.keys)
        self.pub.sequences, self.pub.instances = self.gen.sequences, self.gen.instances
        self.sink = None
        if self.keys is None:
            # A catch-all subscriber (never read) makes our PUB send every topic, wrong ones included,
            # through the bus instead of filtering them out locally. (The bus's XSUB subscribes to
            # everything itself now; with security "" is refused anyway, see open_observers.)
            self.sink = self.ctx.socket(zmq.SUB)
            self.sink.setsockopt(zmq.LINGER, 0)
            self.sink.setsockopt(zmq.RCVHWM, 1000)
            self.sink.setsockopt(zmq.SUBSCRIBE, b"")
            self.sink.connect(self.stack.endpoint("subscribers"))
        else:
            self.open_observers()
        self.open_dealers()

    def open_observers(self):
        """With security: the observer ("operations", exact types it may read) and the hostile
        subscribers, which must never receive anything."""
        policy = self.keys.policy
        endpoint = self.stack.endpoint("subscribers")
        self.observer = make_socket(self.ctx, zmq.SUB, self.keys, "operations", "event-bus")
        self.observer.setsockopt(zmq.RCVHWM, 200000)
        self.observed_types = [t for t in OBSERVED_TYPES if policy.may_read("operations", t)
                               and policy.subscription_covered("operations", t)]
        for t in self.observed_types:
            self.observer.setsockopt(zmq.SUBSCRIBE, t.encode())
        self.observer.connect(endpoint)
        candidates = [
            ("operations subscribed to \"\"", "operations", "key", [b""]),
            ("portal subscribed to prefixes it may not read", "portal", "key",
             [b"", b"sls.", b"sls.accounts.v1.", b"sls.accounts.v1.AccountBalanceUpdated", b"sls.crypto.v1.Venue",
              b"sls.events.v1.ServiceHeartbeat", b"sls.crypto.v1.MarkPriceUpdatedX", b"sls.accounts.v1.*"]),
            ("venue-gateway subscribed to account events", "venue-gateway", "key",
             [b"sls.accounts.v1.AccountBalanceUpdated", b"sls.accounts.v1."]),
            ("a subscriber without CURVE", None, "plain", [b"", b"sls.accounts.v1.AccountBalanceUpdated"]),
            ("a subscriber with an unknown key", None, "unknown", [b"", b"sls.accounts.v1.AccountBalanceUpdated"]),
        ]
        for label, identity, how, prefixes in candidates:
            if identity is not None:
                # Only prefixes the policy refuses to this identity (a --policy may grant more).
                prefixes = [p for p in prefixes if not policy.subscription_covered(identity, p.decode())]
                if not prefixes:
                    continue
            sock = self.hostile_socket(zmq.SUB, how, identity, "event-bus")
            sock.setsockopt(zmq.RCVHWM, 1000)
            for prefix in prefixes:
                sock.setsockopt(zmq.SUBSCRIBE, prefix)
            monitor = sock.get_monitor_socket(HANDSHAKE_EVENTS) if identity is None else None
            sock.connect(endpoint)
            self.hostile_subs.append(dict(label=label, sock=sock, monitor=monitor, received=0, failed=0, ok=0))
        # PUBs of identities that may not publish what the hostile events carry: connected now, so
        # that those events reach the bus (a PUB drops what it sends before the bus subscribed).
        for identity in ("portal", "operations", "trading-gateway"):
            self.pub.socket(identity)

    def open_dealers(self):
        endpoint = self.stack.endpoint("crypto")
        self.dealers = [self.new_dealer(i, endpoint) for i in range(len(self.dealer_ids))]
        self.poller = zmq.Poller()
        for d in self.dealers:
            self.poller.register(d.sock, zmq.POLLIN)

    def close_dealer(self, d, reason):
        self.poller.unregister(d.sock)
        d.sock.close(0)
        if reason == "recycle":
            self.abandoned += d.inflight
        elif reason == "restart":
            self.counts["lost_in_restarts"] += d.inflight
        else:
            self.unanswered += d.inflight

    def new_dealer(self, i, endpoint):
        return Dealer(self.ctx, endpoint, i, b"\x01" + b"R" * 254 if i == DEALERS - 1 else None, self.keys,
                      self.dealer_ids[i])

    def replace_dealer(self, i, reason):
        old = self.dealers[i]
        self.close_dealer(old, reason)
        d = self.new_dealer(i, self.stack.endpoint("crypto"))
        self.dealers[i] = d
        self.poller.register(d.sock, zmq.POLLIN)

    def reset_dealers(self, reason):
        for i in range(len(self.dealers)):
            self.replace_dealer(i, reason)

    # -- replies -------------------------------------------------------------------------------
    def drain(self, d):
        envelope = self.pb.envelope
        methods = self.pb.methods
        while True:
            try:
                frames = d.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.replies += 1
            d.last_reply = time.monotonic()
            if d.inflight > 0:
                d.inflight -= 1
            if d.sent:
                d.sent.popleft()
            if len(frames) != 2:
                self.bad_replies += 1
                continue
            try:
                rh = envelope.ReplyHeader.FromString(frames[0])
            except Exception:
                self.bad_replies += 1
                continue
            code = rh.status.code
            self.by_status[code] += 1
            if code == 7 and rh.status.message.startswith("'") and " may not call " in rh.status.message:
                self.counts["policy_denied"] += 1     # the bus policy's refusal, not a business rule's
            method = d.pending.pop(rh.request_id, None)
            if method is None:
                continue
            if method == "marker":
                self.marker_reply(code, frames[1])
                continue
            if code != 0:
                continue
            try:
                resp = methods[method][1].FromString(frames[1])
            except Exception:
                self.undecodable_ok += 1
                continue
            if method == CRYPTO + "PlaceOrder" and resp.account_id.startswith("FZ-A") and resp.order_id:
                self.gen.order_pool.append(resp.order_id.encode())

    def drain_all(self):
        for d in self.dealers:
            self.drain(d)

    def wait_replies(self, ms):
        for sock, _ in self.poller.poll(ms):
            for d in self.dealers:
                if d.sock is sock:
                    self.drain(d)
                    break

    # -- event markers ---------------------------------------------------------------------------
    def publish_marker(self):
        self.marker_value += 1
        self.marker_pending[self.marker_value] = self.n_inputs
        msg = self.pb.accounts.AccountBalanceUpdated(account_id=BARRIER_ACCOUNT, total_equity=str(self.marker_value),
                                                     cash="1")
        self.pub.publish(msg)
        return self.marker_value

    def marker_reply(self, code, payload):
        if code != 0:
            return
        try:
            state = self.pb.crypto.AccountState.FromString(payload)
            seen = int(state.total_equity)
        except Exception:
            return
        done = [v for v in self.marker_pending if v <= seen]
        for v in done:
            self.events_confirmed_index = max(self.events_confirmed_index, self.marker_pending.pop(v))

    def query_marker(self, d):
        self.request_id += 1
        rid = self.request_id
        header = self.pb.envelope.RequestHeader(method=CRYPTO + "GetAccountState", request_id=rid, caller="fuzz")
        payload = self.pb.crypto.GetAccountStateRequest(account_id=BARRIER_ACCOUNT)
        try:
            d.sock.send_multipart([header.SerializeToString(), payload.SerializeToString()], zmq.NOBLOCK)
        except zmq.Again:
            return
        d.pending[rid] = "marker"
        d.inflight += 1
        d.sent.append(self.n_inputs)

    def barrier(self, timeout=EVENT_BARRIER_TIMEOUT):
        """Publishes a marker event and waits until the service shows it: every event published
        before it was processed. False when it does not show up in time."""
        value = self.publish_marker()
        client = Client(self.ctx, self.pb, self.stack.endpoint("crypto"), self.stack.keys)
        try:
            deadline = time.monotonic() + timeout
            last_publish = time.monotonic()
            while time.monotonic() < deadline:
                if not self.stack.alive("sls-crypto-rules"):
                    return False
                try:
                    code, state = client.call(CRYPTO + "GetAccountState",
                                              self.pb.crypto.GetAccountStateRequest(account_id=BARRIER_ACCOUNT),
                                              timeout=min(CHECK_TIMEOUT, max(0.1, deadline - time.monotonic())))
                except TimeoutError:
                    return False
                if code == 0:
                    try:
                        seen = int(state.total_equity)
                    except ValueError:
                        seen = 0
                    if seen >= value:
                        self.marker_reply(0, state.SerializeToString())
                        return True
                if time.monotonic() - last_publish > 2.0:   # markers are dropped when a queue was full
                    self.marker_pending.pop(value, None)
                    value = self.publish_marker()
                    last_publish = time.monotonic()
                time.sleep(0.002)
            return False
        finally:
            client.close()

    # -- inputs --------------------------------------------------------------------------------
    def make_request(self):
        """The next fuzz request: (request id, frames, Input); its Input names the identity it
        must be sent as (the DEALERs of that identity carry it)."""
        self.request_id += 1
        rid = self.request_id
        deadline = 0 if self.rng.random() < 0.3 else now_ms() + 30000
        frames, inp = self.gen.request(rid, deadline)
        return rid, frames, inp

    def send_request(self, d, request):
        rid, frames, inp = request
        try:
            d.sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            # The DEALER's queue is full (no connection?): wait a little, then give up on it.
            try:
                if not d.sock.poll(1000, zmq.POLLOUT):
                    raise zmq.Again()
                d.sock.send_multipart(frames, zmq.NOBLOCK)
            except zmq.Again:
                self.counts["send_dropped"] += 1
                return
        self.n_inputs += 1
        self.since_check += 1
        self.sent_requests += 1
        self.requests_by_identity[d.identity or "(insecure)"] += 1
        d.requests += 1
        d.inflight += 1
        d.sent.append(self.n_inputs)
        if inp.intact:
            d.pending[rid] = inp.method
        self.history.append((self.n_inputs, "request", d.index, time.monotonic() - self.t0, frames, inp.desc,
                             d.identity))

    def send_event(self):
        frames, inp = self.gen.event()
        self.pub.socket(inp.identity).send_multipart(frames)
        self.n_inputs += 1
        self.since_check += 1
        self.sent_events += 1
        self.history.append((self.n_inputs, "event", None, time.monotonic() - self.t0, frames, inp.desc,
                             inp.identity))
        if self.sent_events - self.last_marker_event_count >= MARKER_EVERY:
            self.last_marker_event_count = self.sent_events
            self.publish_marker()
            self.query_marker(self.marker_dealer())

    def marker_dealer(self):
        """A DEALER whose identity may call GetAccountState (marker queries)."""
        if self.keys is not None:
            for d in self.dealers:
                if self.keys.policy.may_call(d.identity, CRYPTO + "GetAccountState"):
                    return d
        return self.dealers[0]

    def pick_dealer(self, start, identity=None):
        """A DEALER of `identity` (every DEALER without security) with room in its window."""
        candidates = [d for d in self.dealers if d.identity == identity] or self.dealers
        n = len(candidates)
        for k in range(n):
            d = candidates[(start + k) % n]
            if d.inflight < WINDOW:
                return d
        return None

    def fuzz(self):
        args = self.args
        rng = self.rng
        stop_at = self.fuzz_deadline
        last_progress = time.monotonic()
        turn = 0
        while (self.sent_requests < args.requests or self.sent_events < args.events) and not self.aborted:
            if self.since_check >= args.check_every:
                self.check("periodic")
                last_progress = time.monotonic()
                continue
            if (self.n_inputs & 127) == 0:
                if time.monotonic() > stop_at:
                    self.time_limit_hit = True
                    self.log("FUZZ time limit reached: stopping the load after %d inputs" % self.n_inputs)
                    break
                if not (self.stack.alive("sls-crypto-rules") and self.stack.alive("sls-event-bus")):
                    self.check("process exited")
                    last_progress = time.monotonic()
                    continue
                self.drain_all()
                if self.keys is not None:
                    self.observe()
                    self.service_hostile()
                    if args.hostile_every and self.n_inputs - self.last_hostile_input >= args.hostile_every:
                        self.last_hostile_input = self.n_inputs
                        self.start_hostile()
                if self.sent_requests and self.sent_requests % RECYCLE_EVERY < 128 and self.dealers[0].requests > 1000:
                    self.replace_dealer(0, "recycle")
                    self.counts["dealer_reconnects"] += 1
            left_r = args.requests - self.sent_requests
            left_e = args.events - self.sent_events
            if left_e > 0 and (left_r <= 0 or rng.random() * (left_r + left_e) < left_e):
                self.send_event()
                continue
            turn += 1
            request = self.make_request()
            identity = request[2].identity
            d = self.pick_dealer(turn, identity)
            while d is None:
                self.wait_replies(50)
                d = self.pick_dealer(turn, identity)
                if d is not None:
                    last_progress = time.monotonic()
                    break
                if time.monotonic() - last_progress > 2.0:
                    self.check("no replies for 2 s")
                    last_progress = time.monotonic()
                    if self.aborted:
                        return
                    if self.pick_dealer(turn, identity) is None:
                        # The service answers checks but not these DEALERs: their requests are lost.
                        self.counts["stalled_dealers"] += 1
                        self.reset_dealers("stalled")
                    d = self.pick_dealer(turn, identity)
            self.send_request(d, request)
        # Let the requests in flight finish (bounded).
        end = time.monotonic() + 5
        while any(d.inflight for d in self.dealers) and time.monotonic() < end:
            self.wait_replies(50)

    # -- bus security: the observer and hostile traffic -------------------------------------------
    def leak(self, what, detail):
        """Something the stack should have refused got through: a SECURITY finding."""
        self.counts["hostile_leak"] += 1
        entry = dict(what=what, detail=detail, input_index=self.n_inputs, t=round(time.monotonic() - self.t0, 1))
        if len(self.leaks) < 50:
            self.leaks.append(entry)
        if self.counts["hostile_leak"] <= 10:
            self.log("SECURITY #%d after input %d: %s: %s" % (self.counts["hostile_leak"], self.n_inputs, what, detail))

    def hostile_socket(self, kind, how, identity=None, server="crypto-rules"):
        """A socket for hostile traffic. how: "plain" (no CURVE), "unknown" (CURVE with a fresh key
        pair the servers do not know), "wrong-server" (a valid identity, a server key that is
        not the server's), "key" (a valid identity's key)."""
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, 250)
        if how == "unknown":
            public, secret = zmq.curve_keypair()
            sock.curve_serverkey = self.keys.public[server]
            sock.curve_publickey, sock.curve_secretkey = public, secret
        elif how == "wrong-server":
            sock.curve_serverkey = zmq.curve_keypair()[0]
            sock.curve_publickey, sock.curve_secretkey = self.keys.public[identity], self.keys.secret[identity]
        elif how == "key":
            self.keys.secure(sock, identity, server)
        return sock

    def hostile_event(self, message, producer, label):
        """Frames of an event for hostile traffic: valid but for who sends it (marked, so the
        observer can tell it was forwarded)."""
        self.hostile_counter += 1
        return self.pub.frames(message, producer=producer, event_id="%s%d" % (HOSTILE_MARK, self.hostile_counter),
                               sequence=self.hostile_counter, instance="fz-hostile"), label

    def guard_balance_event(self):
        return self.pb.accounts.AccountBalanceUpdated(account_id=GUARD, total_equity="1", cash="1")

    def guard_fill_event(self):
        return self.pb.crypto.VenueOrderFilled(order_id=self.guard_order_id or "CO-0", fill_id="fz-hostile-fill",
                                               quantity="0.05", price="1000000")

    def hostile_requests(self):
        """Requests that would change or read the guard if they were served: [(method, message)]."""
        c = self.pb.crypto
        return [(M_HEALTH, self.pb.health.HealthCheckRequest()),
                (CRYPTO + "GetAccountState", c.GetAccountStateRequest(account_id=GUARD)),
                (CRYPTO + "CancelOrder", c.CancelOrderRequest(account_id=GUARD, order_id=self.guard_order_id)),
                (CRYPTO + "RequestTransfer", c.TransferRequest(account_id=GUARD, asset=c.BTC, quantity="0.05",
                                                               direction="withdrawal")),
                (CRYPTO + "ChargeCustodyFees", c.CustodyFeeRequest(month=time.strftime("%Y-%m", time.gmtime())))]

    def send_hostile_requests(self, attempt, requests):
        for method, message in requests:
            self.hostile_counter += 1
            rid = (1 << 62) + self.hostile_counter
            header = self.pb.envelope.RequestHeader(method=method, request_id=rid, trace_id="%s%d" % (
                HOSTILE_MARK, self.hostile_counter), caller="portal")
            try:
                attempt["sock"].send_multipart([header.SerializeToString(), message.SerializeToString()], zmq.NOBLOCK)
            except zmq.Again:
                attempt["unsent"] += 1
                continue
            attempt["pending"][rid] = method

    HOSTILE_KINDS = ["rpc-plain", "rpc-unknown-key", "event-spoofed-producer", "rpc-denied", "pub-plain",
                     "rpc-wrong-server-key", "event-type-not-allowed", "bus-rpc-unknown-key", "pub-unknown-key",
                     "event-spoofed-producer", "bus-rpc-plain", "rpc-denied", "xsub-unsubscribe"]

    def start_hostile(self):
        """One piece of hostile traffic (in turn); connections are watched by service_hostile."""
        kind = self.HOSTILE_KINDS[self.counts["hostile_turn"] % len(self.HOSTILE_KINDS)]
        if kind not in ("event-spoofed-producer", "event-type-not-allowed") and len(self.hostile_open) >= HOSTILE_OPEN_MAX:
            self.counts["hostile_skipped"] += 1     # its turn comes again next time
            return
        self.counts["hostile_turn"] += 1
        self.counts["hostile:" + kind] += 1
        rng = self.hostile_rng
        policy = self.keys.policy
        if kind in ("event-spoofed-producer", "event-type-not-allowed"):
            self.hostile_events(kind)
            return
        attempt = dict(kind=kind, deadline=time.monotonic() + HOSTILE_WAIT, pending={}, replies=0, unsent=0,
                       failed=0, ok=0, monitor=None, expect="nothing", identity=None, events=None)
        if kind.startswith("rpc-") or kind.startswith("bus-rpc-"):
            on_bus = kind.startswith("bus-")
            server = "event-bus" if on_bus else "crypto-rules"
            if kind == "rpc-denied":
                # An admitted identity calling what the policy does not let it call.
                pairs = [(i, m, msg) for i in ("venue-gateway", "accounts", "trading-gateway", "portal", "event-bus")
                         for m, msg in self.hostile_requests() if not policy.may_call(i, m)]
                if not pairs:
                    return
                identity = rng.choice(sorted({p[0] for p in pairs}))
                requests = [(m, msg) for i, m, msg in pairs if i == identity]
                attempt.update(expect="denied", identity=identity)
                sock = self.hostile_socket(zmq.DEALER, "key", identity, server)
            else:
                how = {"plain": "plain", "unknown-key": "unknown", "wrong-server-key": "wrong-server"}[
                    kind.split("-", 2 if on_bus else 1)[-1]]
                requests = self.hostile_requests() if not on_bus else [(M_HEALTH, self.pb.health.HealthCheckRequest())]
                sock = self.hostile_socket(zmq.DEALER, how, "portal", server)
                attempt["monitor"] = sock.get_monitor_socket(HANDSHAKE_EVENTS)
            sock.connect(self.stack.endpoint("bus" if on_bus else "crypto"))
            attempt["sock"] = sock
            self.send_hostile_requests(attempt, requests)
        elif kind.startswith("pub-"):
            sock = self.hostile_socket(zmq.PUB, "plain" if kind == "pub-plain" else "unknown", None, "event-bus")
            attempt["monitor"] = sock.get_monitor_socket(HANDSHAKE_EVENTS)
            sock.connect(self.stack.endpoint("publishers"))
            attempt["sock"] = sock
            attempt["events"] = [self.hostile_event(self.guard_balance_event(), "accounts", "balance of the guard")[0],
                                 self.hostile_event(self.guard_fill_event(), "venue-gateway", "fill of the guard's order")[0]]
        else:   # xsub-unsubscribe: an admitted subscriber tries to cancel the service's subscriptions
            sock = self.hostile_socket(zmq.XSUB, "key", "operations", "event-bus")
            sock.connect(self.stack.endpoint("subscribers"))
            attempt.update(sock=sock, identity="operations", expect="anything", deadline=time.monotonic() + 0.5)
            frames = []
            for t in ("sls.accounts.v1.AccountBalanceUpdated", "sls.crypto.v1.VenueOrderFilled",
                      "sls.crypto.v1.MarkPriceUpdated", "sls.accounts.v1.AccountProfileUpdated"):
                frames += [b"\x01" + t.encode(), b"\x00" + t.encode()]
            frames += [b"\x01", b"\x00", b"\x00sls.", b"\x02junk", b"\x01" + b"S" * 300, b"\x01sls.\xff\xfe"]
            attempt["xsub"] = frames
        self.hostile_open.append(attempt)

    def hostile_events(self, kind):
        """Events from admitted publishers that the bus must drop: under another producer name,
        or of a type the identity may not publish. They name the guard (a balance update, a fill
        of its resting order), so one that reached the service changes the guard."""
        rng = self.hostile_rng
        policy = self.keys.policy
        if kind == "event-spoofed-producer":
            identity = rng.choice(EVENT_PUBLISHERS)
            message = self.guard_balance_event() if identity == "accounts" else self.guard_fill_event()
            producer = rng.choice([p for p in IDENTITIES + ["account-service", "Accounts", identity + " ",
                                                            identity + "\x00", identity.upper(), "venue"]
                                   if p != identity])
        else:
            options = [(i, m) for i in ("portal", "accounts", "venue-gateway", "operations", "trading-gateway")
                       for m in (self.guard_balance_event(), self.guard_fill_event())
                       if not policy.may_publish(i, m.DESCRIPTOR.full_name)]
            if not options:
                return
            identity, message = rng.choice(options)
            producer = identity
        frames, _ = self.hostile_event(message, producer, kind)
        self.pub.socket(identity).send_multipart(frames)
        self.counts["hostile_events"] += 1
        self.counts["hostile_events:" + kind] += 1
        desc = ["hostile %s: %s from %s as producer %r" % (kind, message.DESCRIPTOR.name, identity, producer)]
        # Saved with the inputs (a replay sends it from the same identity).
        self.history.append((self.n_inputs, "event", None, time.monotonic() - self.t0, frames, desc, identity))

    def service_hostile(self, final=False):
        """Reads what the hostile connections got (non-blocking) and closes those past their time."""
        now = time.monotonic()
        still = []
        for a in self.hostile_open:
            sock = a["sock"]
            if a["monitor"] is not None:
                failed, ok = handshake_events(a["monitor"])
                a["failed"] += failed
                a["ok"] += ok
            if a.get("events"):
                for frames in a["events"]:
                    try:
                        sock.send_multipart(frames, zmq.NOBLOCK)
                    except zmq.Again:
                        pass
            if a.get("xsub"):
                while a["xsub"]:
                    try:
                        sock.send(a["xsub"][0], zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    a["xsub"].pop(0)
            if sock.getsockopt(zmq.TYPE) in (zmq.DEALER, zmq.XSUB):
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    a["replies"] += 1
                    if a["kind"] == "xsub-unsubscribe":
                        continue    # it may read what operations may read
                    code = None
                    if len(frames) == 2:
                        try:
                            rh = self.pb.envelope.ReplyHeader.FromString(frames[0])
                            code = rh.status.code
                            a["pending"].pop(rh.request_id, None)
                        except Exception:
                            pass
                    if a["expect"] == "denied" and code == 7:
                        self.counts["permission_denied_as_expected"] += 1
                    else:
                        self.leak("%s got a reply" % a["kind"], "identity %s, status %s, frames %s" % (
                            a["identity"], self.pb.status_name(code) if code is not None else "?",
                            [short(f, 60) for f in frames]))
            if a["failed"] and "failed_at" not in a:
                a["failed_at"] = now
            done = (final or now >= a["deadline"] or (a["expect"] == "denied" and not a["pending"])
                    # Refused at the handshake: a moment more for anything that might still come.
                    or (a["expect"] == "nothing" and "failed_at" in a and now - a["failed_at"] >= HOSTILE_GRACE))
            if not done:
                still.append(a)
                continue
            if a["monitor"] is not None:
                failed, ok = handshake_events(a["monitor"])
                a["failed"] += failed
                a["ok"] += ok
                sock.disable_monitor()
                a["monitor"].close(0)
            sock.close(0)
            if a["expect"] == "nothing":
                if a["ok"]:
                    self.leak("%s was admitted" % a["kind"], "%d handshake(s) succeeded" % a["ok"])
                else:
                    self.counts["refused_connections"] += 1
                    self.counts["refused:" + a["kind"]] += 1
                    if a["failed"]:
                        self.counts["handshakes_failed_seen"] += 1
            elif a["expect"] == "denied" and a["pending"]:
                self.counts["denied_unanswered"] += len(a["pending"])
        self.hostile_open = still

    def observe(self):
        """Reads what the observer and the hostile subscribers got (non-blocking)."""
        if self.observer is None:
            return
        policy = self.keys.policy
        events_pb = self.pb.events
        for _ in range(100000):
            try:
                frames = self.observer.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            self.observed["total"] += 1
            if len(frames) != 3:
                self.leak("the bus forwarded a %d-frame message" % len(frames), [short(f, 60) for f in frames])
                continue
            try:
                header = events_pb.EventHeader.FromString(frames[1])
            except Exception:
                # The bus decodes it (SwiftProtobuf); Python's stricter checks may not: not a leak.
                self.observed["undecodable_here"] += 1
                continue
            if header.type.encode("utf-8", "surrogateescape") != frames[0]:
                self.leak("the bus forwarded an event whose topic is not its type", "topic %s, type %s" % (
                    short(frames[0], 80), short(header.type, 80)))
            elif header.event_id.startswith(HOSTILE_MARK):
                self.leak("the bus forwarded a hostile event", "type %s, producer %r, event %s" % (
                    header.type, header.producer[:80], header.event_id))
            elif not policy.may_publish(header.producer, header.type):
                self.leak("the bus forwarded an event its producer may not publish", "type %s, producer %r" % (
                    short(header.type, 80), header.producer[:80]))
            producer = header.producer if header.producer in IDENTITIES else "other"
            if header.trace_id.startswith("fz-") and producer in EVENT_PUBLISHERS:
                self.observed["fuzz"] += 1
            elif producer in EVENT_PUBLISHERS:
                self.observed["campaign"] += 1
            else:
                self.observed["by %s" % producer] += 1
            self.observed["type " + header.type.rsplit(".", 1)[-1][:40]] += 1
        for sub in self.hostile_subs:
            if sub["monitor"] is not None:
                failed, ok = handshake_events(sub["monitor"])
                sub["failed"] += failed
                sub["ok"] += ok
                if ok:
                    self.leak("hostile subscriber admitted", sub["label"])
            while True:
                try:
                    frames = sub["sock"].recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                sub["received"] += 1
                if sub["received"] <= 3:
                    self.leak("a refused subscriber received an event", "%s: %s" % (
                        sub["label"], [short(f, 60) for f in frames[:1]]))
                else:
                    self.counts["hostile_leak"] += 1

    def close_security_sockets(self):
        if self.keys is None:
            return
        self.observe()
        self.service_hostile(final=True)
        for sub in self.hostile_subs:
            if sub["monitor"] is not None:
                sub["sock"].disable_monitor()
                sub["monitor"].close(0)
            sub["sock"].close(0)
        if self.observer is not None:
            self.observer.close(0)
            self.observer = None

    # -- checks --------------------------------------------------------------------------------
    def save_inputs(self, kind, number):
        oldest = self.n_inputs + 1
        if kind == "state":
            # The guard was last seen unchanged at the previous check.
            oldest = min(oldest, self.last_good_check_index + 1)
        for d in self.dealers:
            if d.sent:
                oldest = min(oldest, d.sent[0])
        # Events since the last marker the service confirmed may not have been processed yet.
        if self.sent_events:
            oldest = min(oldest, self.events_confirmed_index + 1)
        start = oldest - HISTORY_BEFORE
        entries = [e for e in self.history if e[0] >= start]
        path = os.path.join(self.report_dir, "%s-%d.bin" % (kind, number))
        with open(path, "wb") as f:
            f.write(b"SLSFUZZ1\n")
            for index, k, dealer, t, frames, desc, identity in entries:
                meta = {"index": index, "kind": k, "t": round(t, 3), "dealer": dealer, "identity": identity,
                        "desc": desc, "frames": [len(x) for x in frames]}
                f.write(json.dumps(meta, ensure_ascii=True).encode() + b"\n")
                for x in frames:
                    f.write(x)
        return path, len(entries)

    def record(self, kind, detail, save=True):
        self.counts[kind] += 1
        number = self.counts[kind]
        finding = dict(kind=kind, number=number, input_index=self.n_inputs, t=round(time.monotonic() - self.t0, 1),
                       **detail)
        if save:
            path, n = self.save_inputs({"crash": "crash", "hang": "hang", "state_change": "state"}[kind], number)
            finding["inputs_file"] = path
            finding["inputs_saved"] = n
        self.findings.append(finding)
        return finding

    def restart_service(self):
        self.stack.stop("sls-crypto-rules", signal.SIGKILL, wait=5)
        for attempt in range(3):
            self.stack.start("sls-crypto-rules")
            if wait_serving(self.stack, self.ctx, self.pb, "sls-crypto-rules"):
                self.reset_dealers("restart")
                # New subscriber: wait until events reach it again.
                if self.barrier(timeout=10):
                    return True
                self.log("restart: events do not reach the restarted service")
            code = self.stack.procs["sls-crypto-rules"].poll()
            text = self.stack.log_since_start("sls-crypto-rules")
            message, frame = crash_site(text)
            self.log("restart %d failed (%s): %s %s\n%s" % (attempt + 1, describe_exit(code), message, frame,
                                                             self.stack.tail("sls-crypto-rules", 30)))
            if code is not None:
                self.record("crash", dict(process="sls-crypto-rules", exit=describe_exit(code), message=message,
                                          frame=frame, during="start-up after a restart (persistent state)"),
                            save=False)
            self.stack.stop("sls-crypto-rules", signal.SIGKILL, wait=5)
        return False

    def fresh_data_dir(self):
        """The service does not start on its data any more (state written by earlier inputs makes
        it crash or hang at start-up): keep that data folder as evidence and go on with a fresh one,
        prepared like the first."""
        self.stack.stop("sls-crypto-rules", signal.SIGKILL, wait=5)
        self.counts["broken_data_dirs"] += 1
        broken = "%s.broken-%d" % (self.stack.data_dir, self.counts["broken_data_dirs"])
        os.rename(self.stack.data_dir, broken)
        os.makedirs(self.stack.data_dir)
        self.findings.append(dict(kind="persistent", number=self.counts["broken_data_dirs"], input_index=self.n_inputs,
                                  data_dir=broken, t=round(time.monotonic() - self.t0, 1)))
        self.log("PERSISTENT: the service cannot start on its data any more; kept it in %s (start it with "
                 "--data-dir there to reproduce) and continue on a fresh data folder" % broken)
        self.stack.start("sls-crypto-rules")
        if not wait_serving(self.stack, self.ctx, self.pb, "sls-crypto-rules"):
            return False
        self.reset_dealers("restart")
        try:
            self.guard_order_id = Preparer(self.ctx, self.pb, self.stack, self.pub).all()
            client = Client(self.ctx, self.pb, self.stack.endpoint("crypto"), self.stack.keys)
            try:
                self.guard_state = self.guard_snapshot(client)
            finally:
                client.close()
        except (RuntimeError, TimeoutError) as e:
            self.log("preparing the fresh data folder failed: %s" % e)
            return False
        self.gen.guard_order_id = self.guard_order_id.encode()
        self.gen.order_pool.clear()
        return self.barrier(timeout=10)

    def restart_bus(self):
        self.stack.stop("sls-event-bus", signal.SIGKILL, wait=5)
        self.stack.start("sls-event-bus")
        return wait_serving(self.stack, self.ctx, self.pb, "sls-event-bus")

    def handle_crash(self, name, reason):
        proc = self.stack.procs[name]
        code = proc.poll()
        if code is None:   # the backtracer may still be writing: give it a moment
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            code = proc.returncode
        text = self.stack.log_since_start(name)
        message, frame = crash_site(text)
        self.site_counts[(message, frame)] += 1
        save = self.site_counts[(message, frame)] <= self.args.max_saved_per_site
        f = self.record("crash", dict(process=name, exit=describe_exit(code), message=message, frame=frame,
                                      seen=reason), save=save)
        if not save:
            f["inputs_file"], f["inputs_saved"] = "(not saved: %d files of this crash site already)" % (
                self.args.max_saved_per_site), 0
        self.log("CRASH #%d: %s %s after input %d: %s\n  at: %s\n  inputs saved: %s (%d inputs)" % (
            f["number"], name, describe_exit(code), self.n_inputs, message or "(no fatal message)",
            frame or "(no frame)", f["inputs_file"], f["inputs_saved"]))
        if self.site_counts[(message, frame)] <= 3:   # the same crash site again: no need for the log every time
            self.log("---- log tail of %s ----\n%s\n----" % (self.stack.logs[name], crash_excerpt(text)))
        ok = self.restart_bus() if name == "sls-event-bus" else self.restart_service()
        if not ok and name == "sls-crypto-rules":
            ok = self.fresh_data_dir()
        if not ok:
            self.aborted = "%s could not be brought back after a crash" % name
            self.log("FUZZ aborted: " + self.aborted)

    def handle_hang(self, what, elapsed):
        log_text = self.stack.log_since_start("sls-crypto-rules")
        if any(m in log_text for m in ("Program crashed", "Fatal error")):
            self.handle_crash("sls-crypto-rules", "crash in progress while " + what)
            return
        rss = read_rss_mb(self.stack.pid())
        f = self.record("hang", dict(process="sls-crypto-rules", what=what, rss_mb=round(rss, 1)))
        self.log("HANG #%d after input %d: %s (%.1f s); RSS %.1f MB; inputs saved: %s (%d inputs)\n"
                 "---- last 30 lines of the log ----\n%s\n----" % (
                     f["number"], self.n_inputs, what, elapsed, rss, f["inputs_file"], f["inputs_saved"],
                     self.stack.tail("sls-crypto-rules", 30)))
        self.stack.stop("sls-crypto-rules", signal.SIGKILL, wait=5)
        if not self.restart_service() and not self.fresh_data_dir():
            self.aborted = "the service could not be brought back after a hang"
            self.log("FUZZ aborted: " + self.aborted)

    def guard_snapshot(self, client):
        code, state = client.call(CRYPTO + "GetAccountState", self.pb.crypto.GetAccountStateRequest(account_id=GUARD))
        if code != 0:
            raise RuntimeError("GetAccountState for the guard failed: %s" % state)
        return guard_view(state)

    def check(self, reason):
        self.checks += 1
        self.since_check = 0
        self.drain_all()
        if self.keys is not None:
            self.observe()
            self.service_hostile()
        for name in ("sls-event-bus", "sls-crypto-rules"):
            if not self.stack.alive(name):
                self.handle_crash(name, reason)
                self.progress()
                return
        client = Client(self.ctx, self.pb, self.stack.endpoint("crypto"), self.stack.keys)
        state = None
        try:
            t = time.monotonic()
            for what, fn in (("Health/Check", lambda: client.call(M_HEALTH, self.pb.health.HealthCheckRequest())),
                             ("GetAccountState", lambda: self.guard_snapshot(client))):
                try:
                    result = fn()
                except TimeoutError:
                    if not self.stack.alive("sls-crypto-rules"):
                        self.handle_crash("sls-crypto-rules", "%s got no reply" % what)
                    else:
                        self.handle_hang("no reply to %s within %.0f s" % (what, CHECK_TIMEOUT), time.monotonic() - t)
                    self.progress()
                    return
                except RuntimeError as e:
                    # The guard cannot be read any more (an error status): that is a change too.
                    self.log("check: %s" % e)
                    result = {"error": str(e)}
                if what == "GetAccountState":
                    state = result
        finally:
            client.close()
        t = time.monotonic()
        if not self.barrier():
            if not self.stack.alive("sls-crypto-rules"):
                self.handle_crash("sls-crypto-rules", "during the event marker")
            else:
                self.handle_hang("events published were not processed within %.0f s" % EVENT_BARRIER_TIMEOUT,
                                 time.monotonic() - t)
            self.progress()
            return
        if state is not None and state != self.guard_state:
            changed = {k: (self.guard_state.get(k), state.get(k)) for k in state if state.get(k) != self.guard_state.get(k)}
            f = self.record("state_change", dict(changed={k: [repr(a), repr(b)] for k, (a, b) in changed.items()}))
            self.log("STATE CHANGE #%d of %s after input %d: %s\n  inputs saved: %s (%d inputs)" % (
                f["number"], GUARD, self.n_inputs,
                "; ".join("%s: %r -> %r" % (k, a, b) for k, (a, b) in changed.items()),
                f["inputs_file"], f["inputs_saved"]))
            self.guard_state = state
        self.restart_failures = 0
        self.last_good_check_index = self.n_inputs
        if self.rss_warm == 0.0 and self.stack.pid() == self.rss_start_pid:
            # The baseline for "memory comes back": after the first check_every inputs, when
            # caches, allocator arenas and SQLite pages that any use touches are in place.
            self.rss_warm = read_rss_mb(self.stack.pid())
        self.progress()

    def progress(self):
        pid = self.stack.pid()
        rss = read_rss_mb(pid)
        self.rss_peak = max(self.rss_peak, rss, read_rss_mb(pid, "VmHWM"))
        elapsed = time.monotonic() - self.t0
        self.log("check %d: inputs %d (requests %d, events %d) crashes %d hangs %d state_changes %d "
                 "rss %.1f MB replies %d %.0f inputs/s" % (
                     self.checks, self.n_inputs, self.sent_requests, self.sent_events, self.counts["crash"],
                     self.counts["hang"], self.counts["state_change"], rss, self.replies,
                     self.n_inputs / max(elapsed - self.setup_seconds, 0.001)))

    # -- slow readers --------------------------------------------------------------------------
    def slow_readers(self, budget):
        n = self.args.slow_readers
        result = dict(connections=n, mb_per_connection=0.0, requests=0)
        if n <= 0:
            return result
        pid = self.stack.pid()
        before = read_rss_mb(pid)
        socks = []
        identity = None if self.keys is None else self.keys.caller(CRYPTO + "GetAccountState", REQUEST_CALLERS)
        for _ in range(n):
            s = make_socket(self.ctx, zmq.DEALER, self.keys, identity, "crypto-rules")
            s.setsockopt(zmq.RCVHWM, 1)
            s.setsockopt(zmq.RCVBUF, 4096)
            s.connect(self.stack.endpoint("crypto"))
            socks.append(s)
        header = self.pb.envelope.RequestHeader(method=CRYPTO + "GetAccountState", request_id=7,
                                                caller="fuzz-slow-reader").SerializeToString()
        payload = self.pb.crypto.GetAccountStateRequest(account_id=SLOW_ACCOUNT).SerializeToString()
        frames = [header, payload]
        sent = [0] * n
        peak = before
        end = time.monotonic() + min(20.0, budget)
        last_sample = 0.0
        while time.monotonic() < end and min(sent) < 200000:
            progressed = False
            for i, s in enumerate(socks):
                if sent[i] >= 200000:
                    continue
                for _ in range(64):
                    try:
                        s.send_multipart(frames, zmq.NOBLOCK)
                        sent[i] += 1
                        progressed = True
                    except zmq.Again:
                        break
            if time.monotonic() - last_sample > 0.5:
                last_sample = time.monotonic()
                if not self.stack.alive("sls-crypto-rules"):
                    break
                peak = max(peak, read_rss_mb(pid))
            if not progressed:
                time.sleep(0.002)
        hold = time.monotonic() + 3
        while time.monotonic() < hold and self.stack.alive("sls-crypto-rules"):
            peak = max(peak, read_rss_mb(pid))
            time.sleep(0.25)
        connected = read_rss_mb(pid)
        for s in socks:
            s.close(0)
        time.sleep(5)
        after = read_rss_mb(pid)
        self.rss_peak = max(self.rss_peak, peak)
        result.update(requests=sum(sent), rss_before_mb=round(before, 1), rss_peak_connected_mb=round(peak, 1),
                      rss_connected_end_mb=round(connected, 1), rss_after_disconnect_mb=round(after, 1),
                      mb_per_connection=round((peak - before) / n, 1), alive=self.stack.alive("sls-crypto-rules"))
        return result

    # -- the whole run -------------------------------------------------------------------------
    def run(self):
        args = self.args
        self.log("FUZZ seed %d" % self.seed)
        self.log("FUZZ binaries %s; work folder %s" % (args.bin_dir, self.workdir))
        if self.keys is not None:
            callers = collections.defaultdict(list)
            for m in sorted(self.pb.methods):
                callers[self.keys.caller(m, REQUEST_CALLERS)].append(m.rsplit("/", 1)[1])
            self.log("FUZZ bus security on: keyring %s, policy %s; requests as %s; events as %s; hostile traffic "
                     "every %d inputs" % (self.keys.keyring, self.keys.policy_path,
                                          "; ".join("%s: %s" % (i, ", ".join(ms)) for i, ms in sorted(callers.items())),
                                          ", ".join(EVENT_PUBLISHERS), args.hostile_every))
        else:
            self.log("FUZZ bus security off (--insecure): plain sockets, no keys, no policy")
        if self.clock_offset:
            self.log("FUZZ New York is in the weekend window: service clock shifted by %d s" % self.clock_offset)
        if not self.start_stack():
            return 2
        self.log("FUZZ ports %s" % json.dumps(self.stack.ports))
        self.open_sockets()
        try:
            self.guard_order_id = Preparer(self.ctx, self.pb, self.stack, self.pub).all()
        except (RuntimeError, TimeoutError) as e:
            self.log("FUZZ setup failed: preparing the accounts: %s" % e)
            for n in ("sls-event-bus", "sls-crypto-rules"):
                self.log("---- last 30 lines of %s ----\n%s" % (self.stack.logs[n], self.stack.tail(n, 30)))
            return 2
        self.gen.guard_order_id = self.guard_order_id.encode()
        client = Client(self.ctx, self.pb, self.stack.endpoint("crypto"), self.stack.keys)
        try:
            self.guard_state = self.guard_snapshot(client)
        finally:
            client.close()
        if not self.barrier(10):
            self.log("FUZZ setup failed: event markers do not reach the service")
            return 2
        self.log("FUZZ guard %s recorded: cash %s, positions %s, open orders %d" % (
            GUARD, self.guard_state["cash"], self.guard_state["positions"], len(self.guard_state["open_orders"])))
        time.sleep(1)
        self.rss_start = read_rss_mb(self.stack.pid())
        self.rss_start_pid = self.stack.pid()
        self.rss_peak = self.rss_start
        self.setup_seconds = time.monotonic() - self.t0
        reserve = min(45.0, args.time_limit * 0.25) if args.slow_readers else min(15.0, args.time_limit * 0.1)
        self.fuzz_deadline = self.deadline - reserve
        fuzz_t0 = time.monotonic()
        self.fuzz()
        self.fuzz_seconds = time.monotonic() - fuzz_t0
        if self.keys is not None:
            # Let the last hostile connections have their time (bounded), then close them.
            end = time.monotonic() + HOSTILE_WAIT
            while self.hostile_open and time.monotonic() < end:
                self.service_hostile()
                time.sleep(0.05)
            self.service_hostile(final=True)
        if not self.aborted:
            self.check("end of the load")
        time.sleep(5)
        self.rss_after_fuzz = read_rss_mb(self.stack.pid())
        slow = dict(connections=0, mb_per_connection=0.0, requests=0)
        if not self.aborted:
            slow = self.slow_readers(max(1.0, self.deadline - time.monotonic() - 10))
            self.log("FUZZ slow readers: %s" % json.dumps(slow))
            if not self.stack.alive("sls-crypto-rules"):
                self.handle_crash("sls-crypto-rules", "slow readers")
            else:
                self.check("after the slow readers")
        time.sleep(5)
        rss_end = read_rss_mb(self.stack.pid())
        self.close_security_sockets()
        return self.summary(rss_end, slow)

    def summary(self, rss_end, slow):
        args = self.args
        elapsed = time.monotonic() - self.t0
        log_injection = self.count_log_injection()
        baseline = self.rss_warm or self.rss_start
        ratio = rss_end / baseline if baseline else 0.0
        crashes, hangs, changes = self.counts["crash"], self.counts["hang"], self.counts["state_change"]
        statuses = {self.pb.status_name(k): v for k, v in sorted(self.by_status.items())}
        sites = collections.Counter("%s | %s" % (f.get("message") or f.get("exit"), f.get("frame") or "")
                                    for f in self.findings if f["kind"] == "crash")
        for site, n in sorted(sites.items(), key=lambda x: -x[1]):
            self.log("FUZZ crash_site %dx %s" % (n, site))
        enum_cov = sorted({"%s.%s" % (m, f) for (m, f, label) in self.gen.coverage if label == "negative"})
        self.log("FUZZ negative_enum_fields_hit %d: %s" % (len(enum_cov), ", ".join(enum_cov)))
        self.log("FUZZ requests %d" % self.sent_requests)
        self.log("FUZZ events %d" % self.sent_events)
        self.log("FUZZ crashes %d" % crashes)
        self.log("FUZZ hangs %d" % hangs)
        self.log("FUZZ state_changes %d" % changes)
        self.log("FUZZ rss_start_mb %.1f" % self.rss_start)
        self.log("FUZZ rss_after_warmup_mb %.1f (after the first %d inputs: the baseline)" % (
            baseline, args.check_every))
        self.log("FUZZ rss_peak_mb %.1f" % self.rss_peak)
        self.log("FUZZ rss_after_fuzz_mb %.1f" % self.rss_after_fuzz)
        self.log("FUZZ rss_end_mb %.1f" % rss_end)
        self.log("FUZZ rss_end_vs_warmup %.2f%s" % (ratio, "" if self.stack.pid() == self.rss_start_pid
                                                     else " (the service was restarted in between)"))
        self.log("FUZZ slow_reader_mb_per_connection %.1f" % slow["mb_per_connection"])
        if slow.get("rss_after_disconnect_mb") is not None:
            self.log("FUZZ slow_reader_rss_after_disconnect_mb %.1f" % slow["rss_after_disconnect_mb"])
        self.log("FUZZ replies %d (bad replies %d, OK replies that did not decode %d, unanswered %d, "
                 "abandoned on reconnect %d)" % (self.replies, self.bad_replies, self.undecodable_ok,
                                                 self.unanswered, self.abandoned))
        self.log("FUZZ replies_by_status %s" % json.dumps(statuses))
        security = self.security_summary()
        self.log("FUZZ log_injection_lines %d" % log_injection)
        for f in self.findings:
            if f["kind"] == "persistent":
                self.log("FUZZ persistent_crash_data_dir %s (after input %d)" % (f["data_dir"], f["input_index"]))
        self.log("FUZZ fuzz_seconds %.1f (%.0f inputs/s)" % (self.fuzz_seconds, self.n_inputs / max(self.fuzz_seconds, 0.001)))
        if self.time_limit_hit:
            self.log("FUZZ time_limit_reached %d s: stopped early" % args.time_limit)
        if self.aborted:
            self.log("FUZZ aborted %s" % self.aborted)
        self.log("FUZZ seconds %.1f" % elapsed)
        failed = []
        if crashes:
            failed.append("crashes %d" % crashes)
        if hangs:
            failed.append("hangs %d" % hangs)
        if changes:
            failed.append("state_changes %d" % changes)
        if ratio > 1.2:
            failed.append("rss_end_vs_warmup %.2f > 1.2" % ratio)
        if slow["mb_per_connection"] >= 10:
            failed.append("slow_reader_mb_per_connection %.1f >= 10" % slow["mb_per_connection"])
        if self.counts["hostile_leak"]:
            failed.append("hostile_leaks %d (the stack let through what it must refuse)" % self.counts["hostile_leak"])
        if self.aborted:
            failed.append("aborted: %s" % self.aborted)
        report = dict(security=security, seed=self.seed, requests=self.sent_requests, events=self.sent_events, crashes=crashes,
                      hangs=hangs, state_changes=changes, rss_start_mb=round(self.rss_start, 1),
                      rss_peak_mb=round(self.rss_peak, 1), rss_after_fuzz_mb=round(self.rss_after_fuzz, 1),
                      rss_end_mb=round(rss_end, 1), rss_end_vs_warmup=round(ratio, 2), slow_readers=slow,
                      replies_by_status=statuses, replies=self.replies, bad_replies=self.bad_replies,
                      undecodable_ok_replies=self.undecodable_ok, unanswered=self.unanswered,
                      log_injection_lines=log_injection, crash_sites=dict(sites), findings=self.findings,
                      seconds=round(elapsed, 1), fuzz_seconds=round(self.fuzz_seconds, 1),
                      time_limit_reached=self.time_limit_hit, aborted=self.aborted, failed=failed,
                      disabled=sorted(self.gen.disabled), args=vars(args))
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f, indent=2, default=str)
        if failed:
            self.log("FUZZ FAILED: " + "; ".join(failed))
            return 1
        self.log("FUZZ PASSED")
        return 0

    def security_summary(self):
        """The FUZZ lines about bus security; the same as a dict for the report."""
        if self.keys is None:
            self.log("FUZZ security off (--insecure)")
            return dict(on=False)
        c = self.counts
        kinds = sorted({k.split(":", 1)[1] for k in c if k.startswith("hostile:")})
        attempts = {k: c["hostile:" + k] for k in kinds}
        refused = {k: c["refused:" + k] for k in kinds if c["refused:" + k]}
        observed = dict(self.observed)
        by_type = {k[5:]: v for k, v in sorted(observed.items()) if k.startswith("type ")}
        subs = [dict(label=s["label"], received=s["received"], handshakes_failed=s["failed"]) for s in self.hostile_subs]
        self.log("FUZZ security on (policy %s)" % self.keys.policy_path)
        self.log("FUZZ requests_by_identity %s" % json.dumps(dict(sorted(self.requests_by_identity.items()))))
        self.log("FUZZ policy_denied_replies %d of %d replies (PERMISSION_DENIED from the bus policy; the other "
                 "PERMISSION_DENIED replies are business rules)" % (c["policy_denied"], self.replies))
        self.log("FUZZ events_seen_forwarded %d (fuzz events %d of %d sent; the campaign's own %d; by crypto-rules %d; "
                 "undecodable here %d) by type %s" % (
                     observed.get("total", 0), observed.get("fuzz", 0), self.sent_events, observed.get("campaign", 0),
                     observed.get("by crypto-rules", 0), observed.get("undecodable_here", 0), json.dumps(by_type)))
        self.log("FUZZ refused_connections %d %s (failed handshakes seen on %d)" % (
            c["refused_connections"], json.dumps(refused), c["handshakes_failed_seen"]))
        self.log("FUZZ hostile_attempts %d %s (skipped, too many open: %d)" % (
            sum(attempts.values()), json.dumps(attempts), c["hostile_skipped"]))
        self.log("FUZZ permission_denied_as_expected %d (unanswered %d)" % (
            c["permission_denied_as_expected"], c["denied_unanswered"]))
        self.log("FUZZ hostile_events %d (spoofed producer %d, type not allowed %d)" % (
            c["hostile_events"], c["hostile_events:event-spoofed-producer"], c["hostile_events:event-type-not-allowed"]))
        self.log("FUZZ hostile_subscribers %d, events received %d" % (len(subs), sum(s["received"] for s in subs)))
        self.log("FUZZ hostile_leaks %d" % c["hostile_leak"])
        return dict(on=True, policy=self.keys.policy_path, requests_by_identity=dict(self.requests_by_identity),
                    policy_denied_replies=c["policy_denied"],
                    observed=observed, refused_connections=c["refused_connections"], refused_by_kind=refused,
                    handshakes_failed_seen=c["handshakes_failed_seen"], hostile_attempts=attempts,
                    hostile_skipped=c["hostile_skipped"],
                    permission_denied_as_expected=c["permission_denied_as_expected"],
                    denied_unanswered=c["denied_unanswered"], hostile_events=c["hostile_events"],
                    hostile_subscribers=subs, hostile_leaks=c["hostile_leak"], leaks=self.leaks)

    def count_log_injection(self):
        n = 0
        path = self.stack.logs.get("sls-crypto-rules")
        try:
            with open(path, "rb") as f:
                for line in f:
                    if line.startswith(b"FAKE LOG LINE"):
                        n += 1
        except (OSError, TypeError):
            pass
        return n


# ---------------------------------------------------------------------------------------------
# Replay (triage of a saved input file)

def read_inputs(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"SLSFUZZ1\n"):
        raise SystemExit("%s is not a fuzz input file" % path)
    i = len(b"SLSFUZZ1\n")
    out = []
    while i < len(data):
        j = data.index(b"\n", i)
        meta = json.loads(data[i:j])
        i = j + 1
        frames = []
        for n in meta["frames"]:
            frames.append(data[i:i + n])
            i += n
        out.append((meta, frames))
    return out


def pretty(pb, meta, frames):
    """Best-effort decoding of one saved input."""
    from google.protobuf import text_format

    def fmt(msg):
        text = text_format.MessageToString(msg, as_one_line=True, as_utf8=False)
        return text if len(text) < 600 else text[:600] + "...(%d chars)" % len(text)

    lines = []
    try:
        if meta["kind"] == "request" and len(frames) == 2:
            h = pb.envelope.RequestHeader.FromString(frames[0])
            lines.append("header: " + fmt(h))
            cls = pb.methods.get(h.method, (None,))[0]
            if cls:
                lines.append("payload (%d B): %s" % (len(frames[1]), fmt(cls.FromString(frames[1]))))
        elif meta["kind"] == "event" and len(frames) == 3:
            lines.append("topic: %r" % frames[0][:100])
            lines.append("header: " + fmt(pb.events.EventHeader.FromString(frames[1])))
            cls = pb.event_types.get(frames[0].decode("utf-8", "replace"))
            if cls:
                lines.append("payload (%d B): %s" % (len(frames[2]), fmt(cls.FromString(frames[2]))))
    except Exception as e:
        lines.append("(protobuf could not decode it: %s)" % type(e).__name__)
    lines.append("raw frames: " + ", ".join(short(f, 80) for f in frames))
    return "\n    ".join(lines)


class ReplaySession:
    """A fresh stack, prepared like the campaign's, that takes saved inputs one at a time."""

    def __init__(self, args, pb, tag):
        self.pb = pb
        self.work = tempfile.mkdtemp(prefix="sls-fuzz-replay-%s-" % tag)
        self.keys = None if args.insecure else BusKeys(args.bin_dir, os.path.join(self.work, "keyring"), args.policy)
        self.stack = Stack(args.bin_dir, self.work, args.max_message_bytes, args.extra_service_arg, True,
                           weekend_clock_offset(), self.keys)
        self.ctx = zmq.Context()
        self.client = self.pub = self.sink = None
        for name in ("sls-event-bus", "sls-crypto-rules"):
            self.stack.start(name)
            if not wait_serving(self.stack, self.ctx, pb, name):
                raise SystemExit("REPLAY %s did not start:\n%s" % (name, self.stack.tail(name)))
        self.pub = Publisher(self.ctx, pb, self.stack.endpoint("publishers"), "fuzz-marker", self.keys)
        if self.keys is None:
            self.sink = self.ctx.socket(zmq.SUB)   # as in the campaign: every topic leaves our PUB
            self.sink.setsockopt(zmq.LINGER, 0)
            self.sink.setsockopt(zmq.SUBSCRIBE, b"")
            self.sink.connect(self.stack.endpoint("subscribers"))
        Preparer(self.ctx, pb, self.stack, self.pub).all()
        self.connect()
        self.guard = self.guard_state()
        self.marker = 1000000

    def connect(self):
        if self.client:
            self.client.close()
        self.client = Client(self.ctx, self.pb, self.stack.endpoint("crypto"), self.stack.keys)

    def identity_of(self, meta, frames):
        """The key an input was sent with (saved since bus security; older files: the default)."""
        if self.keys is None:
            return None
        identity = meta.get("identity")
        if identity in IDENTITIES:
            return identity
        if meta["kind"] == "request":
            return REQUEST_CALLERS[0]
        return self.keys.publisher(frames[0].decode("utf-8", "replace") if frames else "")

    def guard_state(self):
        code, st = self.client.call(CRYPTO + "GetAccountState", self.pb.crypto.GetAccountStateRequest(account_id=GUARD))
        return guard_view(st) if code == 0 else None

    def event_barrier(self):
        self.marker += 1
        value = str(self.marker)
        self.pub.publish(self.pb.accounts.AccountBalanceUpdated(account_id=BARRIER_ACCOUNT, total_equity=value,
                                                                cash="1"))
        end = time.monotonic() + 5
        while time.monotonic() < end:
            if not self.stack.alive("sls-crypto-rules"):
                return False
            try:
                code, st = self.client.call(CRYPTO + "GetAccountState",
                                            self.pb.crypto.GetAccountStateRequest(account_id=BARRIER_ACCOUNT),
                                            timeout=2)
            except TimeoutError:
                return False
            if code == 0 and st.total_equity == value:
                return True
            time.sleep(0.005)
        return False

    def send(self, meta, frames):
        """None, or (what, detail) when the service crashed, hung or changed the guard."""
        identity = self.identity_of(meta, frames)
        if meta["kind"] == "request":
            ok = self.client.call_raw(frames, None, 3.0, identity) is not None
        else:
            # The frames as saved, from the identity that sent them. The marker goes out on the
            # PUB of account events: after an event of another PUB, give the bus a moment first.
            self.pub.socket(identity).send_multipart(frames)
            if identity != self.pub.identity_for("sls.accounts.v1.AccountBalanceUpdated"):
                time.sleep(0.05)
            ok = self.event_barrier()
        if not self.stack.alive("sls-crypto-rules"):
            return self.crashed()
        if not ok:
            try:
                self.client.call(M_HEALTH, self.pb.health.HealthCheckRequest(), timeout=5)
            except TimeoutError:
                if not self.stack.alive("sls-crypto-rules"):
                    return self.crashed()
                return ("hang", "no reply to Health/Check within 5 s")
        try:
            state = self.guard_state()
        except TimeoutError:
            return self.crashed() if not self.stack.alive("sls-crypto-rules") else ("hang", "GetAccountState")
        if state is not None and state != self.guard:
            diff = {k: (self.guard.get(k), state.get(k)) for k in state if state.get(k) != self.guard.get(k)}
            self.guard = state
            return ("state change", "; ".join("%s: %r -> %r" % (k, a, b) for k, (a, b) in diff.items()))
        return None

    def crashed(self):
        proc = self.stack.procs["sls-crypto-rules"]
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        message, frame = crash_site(self.stack.log_since_start("sls-crypto-rules"))
        return ("crash", "%s: %s | %s" % (describe_exit(proc.poll()), message, frame))

    def recover(self):
        """Restarts the service on the same data folder (as the campaign does)."""
        self.stack.stop("sls-crypto-rules", signal.SIGKILL, wait=5)
        self.stack.start("sls-crypto-rules")
        if not wait_serving(self.stack, self.ctx, self.pb, "sls-crypto-rules"):
            return False
        self.connect()
        return self.event_barrier() or self.event_barrier()

    def close(self):
        for s in (self.client, self.pub):
            if s:
                s.close()
        if self.sink is not None:
            self.sink.close(0)
        self.stack.stop_all()
        self.ctx.destroy(0)
        shutil.rmtree(self.work, ignore_errors=True)


def replay(args, pb):
    inputs = read_inputs(args.replay)
    print("REPLAY %d inputs from %s" % (len(inputs), args.replay), flush=True)
    deadline = time.monotonic() + args.replay_timeout
    session = ReplaySession(args, pb, "all")
    culprits = []
    try:
        for pos, (meta, frames) in enumerate(inputs):
            if time.monotonic() > deadline:
                print("REPLAY time limit reached at input %d of %d" % (pos, len(inputs)), flush=True)
                break
            outcome = session.send(meta, frames)
            if outcome is None:
                continue
            culprits.append((pos, outcome))
            print("REPLAY %s after input #%d (position %d of %d): %s\n  input: %s %s\n    %s" % (
                outcome[0].upper(), meta["index"], pos + 1, len(inputs), outcome[1], meta["kind"],
                " | ".join(meta["desc"]), pretty(pb, meta, frames)), flush=True)
            if outcome[0] in ("crash", "hang") and not session.recover():
                print("REPLAY the service could not be restarted; stopping", flush=True)
                break
    finally:
        session.close()
    if not culprits:
        print("REPLAY no input crashed, hung or changed the guard (timing or concurrency may matter)")
        return 1
    # Each distinct outcome once more, alone, on a fresh stack.
    seen = set()
    for pos, (what, detail) in culprits:
        key = (what, re.sub(r"^[^:]*: ", "", detail) if what == "crash" else detail)
        if key in seen or time.monotonic() > deadline:
            continue
        seen.add(key)
        meta, frames = inputs[pos]
        alone = ReplaySession(args, pb, "alone")
        try:
            result = alone.send(meta, frames)
        finally:
            alone.close()
        print("REPLAY input #%d alone on a fresh stack: %s" % (
            meta["index"], "%s (%s)" % result if result else "does not reproduce alone"), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=False, help="folder with sls-event-bus, sls-crypto-rules and slsctl")
    parser.add_argument("--protos", default=DEFAULT_PROTOS, help="protos/ folder (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=1000000)
    parser.add_argument("--events", type=int, default=200000)
    parser.add_argument("--check-every", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=None, help="default: random (always printed)")
    parser.add_argument("--max-message-bytes", type=int, default=65536)
    parser.add_argument("--slow-readers", type=int, default=1)
    parser.add_argument("--extra-service-arg", action="append", default=[],
                        help="appended to sls-crypto-rules' command line (repeatable)")
    parser.add_argument("--report", help="JSON summary; saved inputs go to its folder")
    parser.add_argument("--time-limit", type=float, default=900)
    parser.add_argument("--disable", default="", help="comma-separated mutator names to leave out")
    parser.add_argument("--list-mutators", action="store_true")
    parser.add_argument("--no-backtraces", action="store_true",
                        help="SWIFT_BACKTRACE=enable=no (crash sites then name only the runtime's message)")
    parser.add_argument("--max-saved-per-site", type=int, default=5,
                        help="input files saved per distinct crash site (default %(default)s)")
    parser.add_argument("--replay", help="a crash-N.bin / hang-N.bin / state-N.bin file to triage")
    parser.add_argument("--replay-timeout", type=float, default=600)
    parser.add_argument("--insecure", action="store_true",
                        help="run both processes with --insecure and every socket plain (no CurveZMQ, no policy, "
                             "no hostile connection-level traffic), as before bus security")
    parser.add_argument("--policy", default=DEFAULT_POLICY, help="bus policy file (default: %(default)s)")
    parser.add_argument("--hostile-every", type=int, default=250,
                        help="inputs between pieces of hostile connection-level traffic with security on; "
                             "0: none (default %(default)s)")
    args = parser.parse_args()
    args.disable = [d for d in args.disable.split(",") if d]
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 32)
    if args.check_every < 1 or args.requests < 0 or args.events < 0 or args.hostile_every < 0:
        parser.error("--check-every must be positive, counts not negative")

    tmp = tempfile.mkdtemp(prefix="sls-fuzz-")
    pb = Protos(args.protos, os.path.join(tmp, "py"))
    if args.list_mutators:
        print(" ".join(Generator(pb, random.Random(0), args.max_message_bytes, []).mutator_names))
        shutil.rmtree(tmp, ignore_errors=True)
        return 0
    if not args.bin_dir:
        parser.error("--bin-dir is required")
    args.bin_dir = os.path.abspath(args.bin_dir)
    for name in ("sls-event-bus", "sls-crypto-rules") + (() if args.insecure else ("slsctl",)):
        if not os.access(os.path.join(args.bin_dir, name), os.X_OK):
            parser.error("%s not found in %s" % (name, args.bin_dir))
    if not args.insecure:
        args.policy = os.path.abspath(args.policy)
        if not os.path.isfile(args.policy):
            parser.error("policy file %s not found (--policy; or --insecure)" % args.policy)
        if not zmq.has("curve"):
            parser.error("this pyzmq/libzmq has no CURVE support (needed unless --insecure)")
    if args.replay:
        try:
            return replay(args, pb)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    report_dir = os.path.dirname(os.path.abspath(args.report)) if args.report else tmp
    os.makedirs(report_dir, exist_ok=True)
    try:
        campaign = Campaign(args, pb, tmp, report_dir)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print("FUZZ setup failed: bus security: %s" % e, flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
        return 2

    def on_signal(signum, _frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    status = 2
    try:
        status = campaign.run()
    except KeyboardInterrupt:
        print("FUZZ interrupted", flush=True)
        status = 130
    finally:
        codes = campaign.stack.stop_all()
        campaign.ctx.destroy(0)
        if codes:
            print("FUZZ stopped: %s" % ", ".join("%s %s" % (n, describe_exit(c)) for n, c in codes.items()), flush=True)
        if status == 0 and not campaign.findings:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("FUZZ kept the work folder (logs, data%s): %s" % (
                "" if args.report else ", saved inputs", tmp), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
