"""The memory scenarios: how much a server's memory grows under a client that
would make an unbounded server grow without limit.

  slow-reader   GET /stream.php: 512 MiB printed by PHP in 1 MiB echos (variants
                with flush() after each and without), to a client that reads
                nothing for 8 s, then reads everything and compares every byte
  upload-400m   POST /upload.php with a 400 MiB body; PHP hashes php://input and
                answers its length and sha256, which must be the client's
  pipeline-20k  20,000 pipelined GET /hello.php written before any response is
                read, then every answer read: 20,000 times 200 "Hello, world!"

The figure is RSS growth: the sum of VmRSS over the server's process tree
(procs.tree_rss: Torus' supervisor and shards, nginx's master and workers,
php-fpm's master and children) just before the client starts, against the
largest sum sampled every 100 ms while it runs and for half a second after.
Before the first measured run the server gets one small request of the same
kind (4 MiB, 200 requests), not counted, so the figure is what the big one
adds rather than what a first request costs. Every run is bounded in time.
"""

import hashlib
import json
import socket
import threading
import time
from collections import namedtuple

import procs
import rawhttp

MIB = rawhttp.MIB
SAMPLE_INTERVAL_S = 0.1
AFTER_S = 0.5  # sampling goes on this long after the client is done

SLOW_READER_MIB = 512
SLOW_READER_PAUSE_S = 8.0
SLOW_READER_LIMIT_S = 120.0  # to read everything, after the pause
UPLOAD_MIB = 400
UPLOAD_LIMIT_S = 180.0
PIPELINE_REQUESTS = 20000
PIPELINE_LIMIT_S = 60.0
PIPELINE_STALL_S = 3.0  # no write progress this long: the server stopped reading, so read
HELLO_BODY = b"Hello, world!"
WARM_MIB = 4
WARM_REQUESTS = 200

VARIANTS = {"slow-reader": ("flush", "no flush")}


def variants(scenario_name):
    """The rows one server gets in a memory scenario: a label each ("" when only one)."""
    return VARIANTS.get(scenario_name, ("",))


# What a client found: problem is None when the data arrived intact, else a one-line
# reason; note says what happened, with "{seconds}" where its duration goes (seconds,
# or None when the note has no duration), so the notes of several runs fold into one.
Outcome = namedtuple("Outcome", "problem note seconds", defaults=(None,))


def fold_notes(outcomes):
    """The notes of several runs, each text once, its durations as a range."""
    durations = {}
    for outcome in outcomes:
        durations.setdefault(outcome.note, [])
        if outcome.seconds is not None:
            durations[outcome.note].append(outcome.seconds)
    notes = []
    for note, seconds in durations.items():
        if not seconds:
            notes.append(note)
            continue
        low, high = f"{min(seconds):.1f}", f"{max(seconds):.1f}"
        notes.append(note.replace("{seconds}", low if low == high else f"{low} to {high}"))
    return notes


# -- the clients: each returns an Outcome and raises rawhttp.ClientFailed

def slow_reader(port, mib, flush, pause):
    """GET /stream.php?mib=MIB, nothing read for pause seconds, then everything, checked."""
    deadline = time.monotonic() + pause + SLOW_READER_LIMIT_S
    path = f"/stream.php?mib={mib}&flush={1 if flush else 0}"
    with rawhttp.connect(port, deadline) as sock:
        rawhttp.send_all(sock, rawhttp.request_bytes("GET", path, port), deadline)
        if pause:
            time.sleep(pause)
        started = time.monotonic()
        check = rawhttp.StreamCheck()
        status, _, _ = rawhttp.ResponseReader(sock, deadline).read_response(check)
        took = time.monotonic() - started
    if status != 200:
        return Outcome(f"status {status}", f"{path} answered {status}")
    problem = check.verdict(mib * MIB)
    unread = f" after {pause:g} s unread" if pause else ""
    return Outcome(problem, f"{check.offset / MIB:,.0f} MiB read{unread} in {{seconds}} s, "
                   + (problem or "every byte as PHP printed it"), took)


def upload(port, mib):
    """POST /upload.php with mib MiB; the server's length and sha256 must be the client's."""
    deadline = time.monotonic() + UPLOAD_LIMIT_S
    length = mib * MIB
    head = rawhttp.request_bytes("POST", "/upload.php", port, (("Content-Type", "application/octet-stream"),
                                                                ("Content-Length", str(length))))
    digest = hashlib.sha256()
    started = time.monotonic()
    with rawhttp.connect(port, deadline) as sock:
        reader = rawhttp.ResponseReader(sock, deadline)
        sent = 0
        try:
            rawhttp.send_all(sock, head, deadline)
            for block in rawhttp.upload_blocks(mib):
                digest.update(block)
                rawhttp.send_all(sock, block, deadline)
                sent += len(block)
        except rawhttp.ClientFailed as e:
            try:  # an early answer (413, 400) says more than the broken pipe
                status, _, body = reader.read_response()
            except rawhttp.ClientFailed:
                raise e
            return Outcome(f"status {status}", f"answered {status} after {sent / MIB:,.0f} MiB sent: {body[:80]!r}")
        status, _, body = reader.read_response()
    took = time.monotonic() - started
    if status != 200:
        return Outcome(f"status {status}", f"answered {status}: {body[:80]!r}")
    try:
        answer = json.loads(body)
        got_bytes, got_sha = int(answer["bytes"]), str(answer["sha256"])
    except (ValueError, KeyError, TypeError):
        return Outcome("bad answer", f"not the JSON of upload.php: {body[:80]!r}")
    if got_bytes != length:
        problem = f"PHP read {got_bytes:,} bytes of {length:,}"
    elif got_sha != digest.hexdigest():
        problem = "sha256 differs"
    else:
        problem = None
    return Outcome(problem, f"{mib} MiB sent and hashed in {{seconds}} s, " + (problem or "sha256 matches"), took)


def pipeline(port, count):
    """count pipelined GET /hello.php written before the first read (unless the server stops
    reading them: then reading starts once writing made no progress for PIPELINE_STALL_S),
    then every answer read and checked."""
    deadline = time.monotonic() + PIPELINE_LIMIT_S
    payload = rawhttp.request_bytes("GET", "/hello.php", port) * count
    with rawhttp.connect(port, deadline) as sock, sock.dup() as writer_sock:
        writer = _Writer(writer_sock, payload, deadline)
        writer.thread.start()
        try:
            while not writer.done.wait(0.1):
                if time.monotonic() - writer.last_progress > PIPELINE_STALL_S or time.monotonic() > deadline:
                    break
            written_first = writer.sent
            reader = rawhttp.ResponseReader(sock, deadline)
            good = bad = 0
            failure = None
            try:
                for _ in range(count):
                    status, _, body = reader.read_response()
                    if status == 200 and body == HELLO_BODY:
                        good += 1
                    else:
                        bad += 1
            except rawhttp.ClientFailed as e:
                failure = str(e)
        finally:
            writer.stop.set()
            writer.thread.join(5)
    how = (f"all {count:,} requests ({len(payload) / MIB:.1f} MiB) written before the first read"
           if written_first == len(payload) else
           f"writing stalled after {written_first / 1024:,.0f} of {len(payload) / 1024:,.0f} KiB "
           f"(the server stopped reading), then read while writing")
    note = f"{good:,}/{count:,} answered 200 {HELLO_BODY.decode()}; {how}"
    if writer.error:
        note += f"; write failed: {writer.error}"
    if failure:
        note += f"; {failure}"
    problem = None if good == count else f"{count - good:,} of {count:,} requests without a good answer"
    return Outcome(problem, note)


class _Writer:
    """pipeline()'s writer thread, on a dup of the socket (its own timeout)."""

    def __init__(self, sock, payload, deadline):
        self.sock = sock
        self.payload = payload
        self.deadline = deadline
        self.sent = 0
        self.error = None
        self.last_progress = time.monotonic()
        self.done = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        view = memoryview(self.payload)
        self.sock.settimeout(0.2)
        try:
            while self.sent < len(view) and not self.stop.is_set() and time.monotonic() < self.deadline:
                try:
                    self.sent += self.sock.send(view[self.sent:self.sent + 256 * 1024])
                    self.last_progress = time.monotonic()
                except socket.timeout:
                    continue
                except OSError as e:
                    self.error = str(e)
                    break
        finally:
            self.done.set()


# -- one scenario's runs, and their figures --------------------------------

def _client(scenario_name, variant, warm_up=False):
    """The client call of a scenario (and variant) as a function of the port."""
    if scenario_name == "slow-reader":
        flush = variant == "flush"
        if warm_up:
            return lambda port: slow_reader(port, WARM_MIB, flush, 0)
        return lambda port: slow_reader(port, SLOW_READER_MIB, flush, SLOW_READER_PAUSE_S)
    if scenario_name == "upload-400m":
        return lambda port: upload(port, WARM_MIB if warm_up else UPLOAD_MIB)
    if scenario_name == "pipeline-20k":
        return lambda port: pipeline(port, WARM_REQUESTS if warm_up else PIPELINE_REQUESTS)
    raise KeyError(scenario_name)


def target_note(growth, target):
    """"target < 32 MiB: met" or "...: MISSED"."""
    return f"target < {target / MIB:.0f} MiB: " + ("met" if growth < target else "MISSED")


def growth_by_process(before, peak):
    """Where the growth went, from procs.tree_status() before and at the peak: one short
    text per process that grew by at least 1 MiB, largest first."""
    parts = []
    for pid, now in peak.items():
        was = before.get(pid, {})
        grew = now.get("VmRSS", 0) - was.get("VmRSS", 0)
        if grew < 1024:
            continue
        kinds = ", ".join(f"{label} {(now.get(key, 0) - was.get(key, 0)) / 1024:+.1f}"
                          for key, label in (("RssAnon", "anon"), ("RssFile", "file"), ("RssShmem", "shmem")))
        parts.append((grew, f"{now.get('Name', '?')} {pid} +{grew / 1024:.1f} MiB ({kinds})"))
    return [text for _, text in sorted(parts, reverse=True)]


def measure(server, scenario, row, runs, log):
    """Runs the scenario's client runs times against server; fills row (peak_rss, rss_growth:
    the largest of the runs; errors: runs whose data did not arrive intact; notes)."""
    run_client = _client(scenario.name, row.variant)
    label = scenario.name + (f" ({row.variant})" if row.variant else "")
    try:
        warm = _client(scenario.name, row.variant, warm_up=True)(server.port)
    except rawhttp.ClientFailed as e:
        row.failure = f"warm-up request failed: {e}"
        return
    if warm.problem:
        row.notes.append(f"warm-up: {warm.problem}")
    peaks, growths, outcomes = [], [], []
    worst = None  # (growth, where it went) of the run that grew most
    for k in range(1, runs + 1):
        if not server.alive():
            row.failure = f"server died: {server.failure_reason()}"
            break
        before = procs.tree_status(server.roots())
        with procs.RssSampler(server.roots, interval=SAMPLE_INTERVAL_S, detail=True) as sampler:
            try:
                outcome = run_client(server.port)
            except rawhttp.ClientFailed as e:
                outcome = Outcome(str(e), f"client failed: {e}")
            time.sleep(AFTER_S)
        growth = sampler.peak - sum(s.get("VmRSS", 0) for s in before.values()) * 1024
        peaks.append(sampler.peak)
        growths.append(growth)
        if worst is None or growth > worst[0]:
            worst = (growth, growth_by_process(before, sampler.peak_status))
        outcomes.append(outcome)
        log(f"  {label} {server.name} run {k}/{runs}: RSS {growth / MIB:+.1f} MiB (peak "
            f"{sampler.peak / MIB:.1f} MiB); {fold_notes([outcome])[0]}")
    if not growths:
        if row.failure is None:
            row.failure = "no run"
        return
    row.peak_rss = max(peaks)
    row.rss_growth = max(growths)
    row.errors = sum(outcome.problem is not None for outcome in outcomes)
    row.notes.extend(fold_notes(outcomes))
    if not server.alive():
        row.notes.append(f"server died: {server.failure_reason()}")
    if scenario.target_growth:
        row.notes.append(target_note(row.rss_growth, scenario.target_growth))
        if row.rss_growth >= scenario.target_growth and worst[1]:
            row.notes.append("grew: " + "; ".join(worst[1][:3]))
    row.notes.extend(server.notes)
