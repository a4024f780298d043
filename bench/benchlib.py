#!/usr/bin/env python3
"""Helpers for bench/run (python3 standard library only).

Subcommands:
  freeport                         print a free TCP port on 127.0.0.1
  rss-watch OUT PID                sample VmRSS of PID and its descendants every 200 ms, keep
                                   the peak in OUT (JSON) until PID exits or we get SIGTERM
  parse-wrk FILE                   wrk --latency output -> JSON metrics
  parse-h2load FILE                h2load output -> JSON metrics
  sink PORT                        upstream for the upload scenario: reads and discards bodies
  idle HOST PORT N HOLD PID OUT    open N keep-alive TLS connections, one request each, hold
  flood HOST PORT RATE SECS USER OUT [TAIL]  wrong-password flood from 127.0.0.2..250
  good HOST PORT RATE SECS HEADER OUT [TAIL]  open-loop good client from 127.0.0.1
  record ...                       append one measurement line (see cmd_record)
  report FILE                      Markdown tables of medians and ratios from a results file
"""

import asyncio
import base64
import json
import os
import re
import resource
import signal
import socket
import ssl
import statistics
import sys
import time

MIB = 1024 * 1024


# ---------------------------------------------------------------- processes and memory


def proc_children():
    """ppid -> [pid] for every process."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may contain spaces and parentheses: split after the last ')'.
        rest = stat[stat.rfind(b")") + 2 :].split()
        kids.setdefault(int(rest[1]), []).append(int(name))
    return kids


def tree(pid):
    kids = proc_children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_kib(pids, field="VmRSS"):
    return sum(status_kib(p, field) for p in pids)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"
    except OSError:
        return False


def cmd_freeport(_args):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_rss_watch(args):
    out, pid = args[0], int(args[1])
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    peak = 0
    samples = 0
    pids = tree(pid)
    last_scan = time.monotonic()
    while not stop and alive(pid):
        now = time.monotonic()
        if now - last_scan > 1.0:
            pids = tree(pid)
            last_scan = now
        rss = tree_kib(pids)
        hwm = tree_kib(pids, "VmHWM")
        samples += 1
        peak = max(peak, rss)
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(
                {
                    "peak_rss_mib": round(peak / 1024, 1),
                    "last_rss_mib": round(rss / 1024, 1),
                    "hwm_mib": round(hwm / 1024, 1),
                    "processes": len(pids),
                    "samples": samples,
                },
                f,
            )
        os.replace(tmp, out)
        time.sleep(0.2)


# ---------------------------------------------------------------- load-tool output


def to_ms(value, unit):
    v = float(value)
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000, "h": v * 3600000}[unit]


def cmd_parse_wrk(args):
    text = open(args[0]).read()
    m = {}
    r = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if r:
        m["rps"] = round(float(r.group(1)), 1)
    for pct in ("50", "75", "90", "99"):
        r = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
        if r:
            m[f"p{pct}_ms"] = round(to_ms(r.group(1), r.group(2)), 3)
    r = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
    if r:
        m["requests"] = int(r.group(1))
        if m["requests"] == 0:
            # Nothing answered: every request wrk sent waited the whole run, at least.
            for pct in ("50", "75", "90", "99"):
                m[f"p{pct}_ms"] = None
                m[f"p{pct}_gt_ms"] = round(to_ms(r.group(2), r.group(3)), 1)
    r = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    m["non2xx"] = int(r.group(1)) if r else 0
    r = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    m["errors"] = sum(int(x) for x in r.groups()) if r else 0
    if r:
        m["timeouts"] = int(r.group(4))
    json.dump(m, sys.stdout)


def cmd_parse_h2load(args):
    text = open(args[0]).read()
    m = {}
    r = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    if r:
        m["rps"] = round(float(r.group(1)), 1)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    if r:
        m["requests"] = int(r.group(3))
        m["errors"] = int(r.group(5)) + int(r.group(6)) + int(r.group(7))
    r = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if r:
        m["non2xx"] = int(r.group(3)) + int(r.group(4))
    r = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", text)
    if r:
        m["mean_ms"] = round(to_ms(r.group(5), r.group(6)), 3)
        m["max_ms"] = round(to_ms(r.group(3), r.group(4)), 3)
    json.dump(m, sys.stdout)


# ---------------------------------------------------------------- upload sink


def cmd_sink(args):
    """HTTP/1.1 server that reads every request body to the end, discards it, answers 200."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _drain(self):
            n = 0
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    left = size
                    while left:
                        chunk = self.rfile.read(min(left, MIB))
                        if not chunk:
                            return n
                        left -= len(chunk)
                        n += len(chunk)
                    self.rfile.readline()
            else:
                left = int(self.headers.get("Content-Length") or 0)
                while left:
                    chunk = self.rfile.read(min(left, MIB))
                    if not chunk:
                        break
                    left -= len(chunk)
                    n += len(chunk)
            return n

        def _answer(self):
            n = self._drain()
            body = f"received {n} bytes\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PUT = do_POST = do_GET = _answer

    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", int(args[0])), Sink)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    srv.serve_forever()


# ---------------------------------------------------------------- TLS clients


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    if want > hard:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def read_response(reader):
    """Reads one HTTP/1.1 response; returns (status, close_after)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                break
            await reader.readexactly(size + 2)
    else:
        n = int(headers.get("content-length", "0"))
        if n:
            await reader.readexactly(n)
    return status, headers.get("connection", "").lower() == "close"


def cmd_idle(args):
    host, port, n, hold, pid, out = args[0], int(args[1]), int(args[2]), float(args[3]), int(args[4]), args[5]
    limit = raise_nofile(n + 1000)
    result = asyncio.run(idle_main(host, port, n, hold, pid, limit))
    with open(out, "w") as f:
        json.dump(result, f)


async def idle_main(host, port, n, hold, pid, limit):
    ctx = client_ctx()
    pids = tree(pid)
    base_kib = tree_kib(pids)
    sem = asyncio.Semaphore(100)
    conns = []
    failures = {}
    closed = 0
    # Spread source addresses so 10,000 connections never run short of ephemeral ports.
    sources = [f"127.0.0.{x}" for x in range(2, 12)]
    request = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: fdbench-idle\r\n\r\n".encode()

    async def watch(reader):
        nonlocal closed
        try:
            data = await reader.read(1)
        except Exception:
            data = b""
        if not data:
            closed += 1

    async def one(i):
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port, ssl=ctx, local_addr=(sources[i % len(sources)], 0)),
                    30,
                )
                writer.write(request)
                status, _ = await asyncio.wait_for(read_response(reader), 30)
                if status != 200:
                    failures[f"status {status}"] = failures.get(f"status {status}", 0) + 1
                conns.append((writer, asyncio.ensure_future(watch(reader))))
            except Exception as e:  # noqa: BLE001 - counted and reported
                key = type(e).__name__
                failures[key] = failures.get(key, 0) + 1

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    open_secs = time.monotonic() - t0
    await asyncio.sleep(0.5)  # let the proxy settle, and any closes arrive
    open_after_open = len(conns) - closed
    pids = tree(pid)
    open_kib = tree_kib(pids)
    peak = open_kib
    end = time.monotonic() + hold
    while time.monotonic() < end:
        await asyncio.sleep(0.25)
        peak = max(peak, tree_kib(pids))
    held_kib = tree_kib(pids)
    established = len(conns)
    still_open = established - closed
    for writer, task in conns:
        task.cancel()
        writer.transport.abort()
    return {
        "wanted": n,
        "established": established,
        "open_when_all_opened": open_after_open,
        "still_open_after_hold": still_open,
        "hold_secs": hold,
        "open_secs": round(open_secs, 2),
        "failures": failures,
        "nofile_limit": limit,
        "baseline_rss_mib": round(base_kib / 1024, 1),
        "open_rss_mib": round(open_kib / 1024, 1),
        "held_rss_mib": round(held_kib / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        # RSS growth per connection, measured when all were just opened.
        "kib_per_conn": round((open_kib - base_kib) / established, 1) if established else None,
    }


def cmd_good(args):
    host, port, rate, secs, header, out = args[0], int(args[1]), float(args[2]), float(args[3]), args[4], args[5]
    tail = float(args[6]) if len(args) > 6 else 5.0
    result = asyncio.run(good_main(host, port, rate, secs, header, tail))
    with open(out, "w") as f:
        json.dump(result, f)


async def good_main(host, port, rate, secs, header, tail):
    """Open-loop good client: RATE requests per second with a correct login from 127.0.0.1,
    over keep-alive connections (a new one only when all are busy). Unlike a closed-loop tool
    (wrk), a stuck request neither slows the sending nor vanishes from the percentiles: a
    request still unanswered at the end counts as slower than anything answered."""
    ctx = client_ctx()
    free = []
    latencies = []
    pending = {}
    statuses = {}
    errors = {}
    req = (
        f"GET / HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: fdbench-good\r\n{header}\r\n\r\n"
    ).encode()

    async def one(i):
        start = time.monotonic()
        pending[i] = start
        try:
            if free:
                reader, writer = free.pop()
            else:
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=ctx, server_hostname="localhost", local_addr=("127.0.0.1", 0)
                )
            writer.write(req)
            status, close = await read_response(reader)
            latencies.append((time.monotonic() - start) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if close:
                writer.transport.abort()
            else:
                free.append((reader, writer))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - counted and reported
            key = type(e).__name__
            errors[key] = errors.get(key, 0) + 1
        finally:
            pending.pop(i, None)

    t0 = time.monotonic()
    tasks = []
    for i in range(int(rate * secs)):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i)))
    if tasks:
        await asyncio.wait(tasks, timeout=tail)
    end = time.monotonic()
    censored = sorted((end - start) * 1000 for start in pending.values())
    for t in tasks:
        t.cancel()
    for _, writer in free:
        writer.transport.abort()
    # Requests unanswered at the end have a latency above their waiting time so far: the
    # percentile is exact only when that cannot matter. Otherwise report a lower bound
    # (unanswered ones counted at their waiting time so far).
    upper = sorted(latencies) + [float("inf")] * len(censored)
    lower = sorted(latencies + censored)

    def pct(ranked, p):
        if not ranked:
            return None
        rank = -(-p * len(ranked) // 100)  # nearest rank
        return ranked[max(0, min(len(ranked), rank) - 1)]

    out = {"sent": len(tasks), "answered": len(latencies), "unanswered_at_end": len(censored),
           "statuses": {str(k): v for k, v in sorted(statuses.items())}, "errors": errors,
           "rps": round(len(latencies) / secs, 1)}
    for p in (50, 99):
        lo, hi = pct(lower, p), pct(upper, p)
        if lo is not None and lo == hi:
            out[f"p{p}_ms"] = round(lo, 3)
        else:
            out[f"p{p}_ms"] = None
            if lo is not None:
                out[f"p{p}_gt_ms"] = round(lo, 1)
    out["non2xx"] = sum(v for k, v in statuses.items() if not 200 <= k < 300) + sum(errors.values()) + len(censored)
    return out


def cmd_flood(args):
    host, port, rate, secs, user, out = args[0], int(args[1]), float(args[2]), float(args[3]), args[4], args[5]
    tail = float(args[6]) if len(args) > 6 else 5.0
    raise_nofile(4096)
    result = asyncio.run(flood_main(host, port, rate, secs, user, tail))
    with open(out, "w") as f:
        json.dump(result, f)


async def flood_main(host, port, rate, secs, user, tail):
    """Open-loop: RATE bad logins per second, request i from 127.0.0.(2 + i % 249), one
    keep-alive connection per address reused when free. USER "*" sprays a new name each time."""
    ctx = client_ctx()
    ips = [f"127.0.0.{x}" for x in range(2, 251)]
    free = {ip: [] for ip in ips}
    statuses = {}
    errors = {}
    first_429 = None
    in_flight = 0
    dropped = 0
    t0 = time.monotonic()

    async def one(i):
        nonlocal first_429, in_flight
        ip = ips[i % len(ips)]
        name = f"user{i}" if user == "*" else user
        token = base64.b64encode(f"{name}:wrong-{i}".encode()).decode()
        req = (
            f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: fdbench-flood\r\n"
            f"Authorization: Basic {token}\r\n\r\n"
        ).encode()
        in_flight += 1
        try:
            if free[ip]:
                reader, writer = free[ip].pop()
            else:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port, ssl=ctx, local_addr=(ip, 0)), 10
                )
            writer.write(req)
            status, close = await asyncio.wait_for(read_response(reader), 30)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 429 and first_429 is None:
                first_429 = time.monotonic() - t0
            if close:
                writer.transport.abort()
            else:
                free[ip].append((reader, writer))
        except Exception as e:  # noqa: BLE001 - counted and reported
            key = type(e).__name__
            errors[key] = errors.get(key, 0) + 1
        finally:
            in_flight -= 1

    tasks = []
    total = int(rate * secs)
    for i in range(total):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if in_flight >= 1000:
            dropped += 1
            continue
        tasks.append(asyncio.ensure_future(one(i)))
    sent_secs = time.monotonic() - t0
    if tasks:
        await asyncio.wait(tasks, timeout=tail)  # answers later than this count as unanswered
    for t in tasks:
        t.cancel()
    for conns in free.values():
        for _, writer in conns:
            writer.transport.abort()
    return {
        "rate": rate,
        "secs": secs,
        "user": user,
        "sent": len(tasks),
        "dropped_overloaded_client": dropped,
        "sent_secs": round(sent_secs, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors,
        "first_429_secs": None if first_429 is None else round(first_429, 3),
    }


# ---------------------------------------------------------------- results


def count_compilers():
    """Other builds (cargo, rustc, cc, ld) running now: they share the cores with the benchmark."""
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/comm") as f:
                    if f.read().strip() in ("cargo", "rustc", "cc1", "cc1plus", "ld", "clang", "rust-lld"):
                        n += 1
            except OSError:
                pass
    return n


def cmd_record(args):
    """record OUT SCENARIO ROUND CONTENDER STATUS METRICS_JSON RSS_JSON [NOTE]
    METRICS_JSON and RSS_JSON are file names ('-' for none)."""
    out, scenario, rnd, contender, status, metrics_file, rss_file = args[:7]
    note = args[7] if len(args) > 7 else ""

    def load(path):
        if path == "-" or not os.path.exists(path) or os.path.getsize(path) == 0:
            return {}
        try:
            with open(path) as f:
                return json.load(f)
        except ValueError:
            return {}

    rec = {
        "type": "measurement",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "scenario": int(scenario),
        "round": int(rnd),
        "contender": contender,
        "status": status,
        "metrics": load(metrics_file),
        "rss": load(rss_file),
    }
    try:
        rec["loadavg"] = open("/proc/loadavg").read().split()[0]
    except OSError:
        pass
    rec["compilers"] = count_compilers()
    if note:
        rec["note"] = note
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")


SCENARIOS = {
    1: ("HTTPS keep-alive GET, HTTP/1.1 (wrk, 32 connections)", [("rps", "req/s", "hi"), ("p50_ms", "p50 ms", "lo"), ("p99_ms", "p99 ms", "lo")]),
    2: ("HTTPS keep-alive GET with a correct Basic login on every request (wrk, 32 connections; frontdoor: the same without login, for the ratio)", [("rps", "req/s", "hi"), ("p50_ms", "p50 ms", "lo"), ("p99_ms", "p99 ms", "lo")]),
    3: ("HTTP/2 (h2load, 4 connections x 8 streams); *-auth send a correct login", [("rps", "req/s", "hi"), ("mean_ms", "mean ms", "lo"), ("max_ms", "max ms", "lo")]),
    4: ("New TLS connection per request (wrk, Connection: close, 32 connections)", [("rps", "req/s", "hi"), ("p50_ms", "p50 ms", "lo"), ("p99_ms", "p99 ms", "lo")]),
    5: ("Streamed PUT upload (curl --http1.1 -T)", [("secs", "seconds", "lo"), ("mib_per_s", "MiB/s", "hi")]),
    6: ("Idle keep-alive TLS connections, one request each, then held open", [("open_when_all_opened", "open when all opened", "hi"), ("still_open", "open after hold", "hi"), ("open_rss_mib", "RSS all open MiB", "lo"), ("held_rss_mib", "RSS after hold MiB", "lo"), ("kib_per_conn", "KiB/conn", "lo")]),
    7: ("Wrong-password flood from 127.0.0.2-250 while a good client (fixed rate, correct login) runs", [("good_rps", "good answered/s", "hi"), ("good_p50_ms", "good p50 ms", "lo"), ("good_p99_ms", "good p99 ms", "lo"), ("good_non2xx", "good not 2xx", "lo"), ("flood_done_per_s", "flood answered/s", "hi"), ("first_429_secs", "429 (lockout)", "yes")]),
}

NO_RATIO = {"open_when_all_opened", "still_open", "good_non2xx", "max_ms"}
ORDER = ["direct", "nginx", "nginx-auth", "caddy", "caddy-auth", "frontdoor", "frontdoor-auth", "frontdoor-key"]
PAIRS = [("frontdoor", "nginx"), ("frontdoor-auth", "nginx-auth"), ("frontdoor", "caddy"), ("frontdoor-auth", "caddy-auth")]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cmd_report(args):
    meta, recs = {}, []
    with open(args[0]) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("type") == "meta":
                meta = r
            elif r.get("type") == "measurement":
                recs.append(r)
    out = []
    if meta:
        out.append(f"Run {meta.get('date')} on {meta.get('host')}: {meta.get('nproc')} cores, load average at start {meta.get('loadavg')}, "
                   f"{meta.get('rounds')} round(s){' (quick)' if meta.get('quick') else ''}.")
        if meta.get("busy"):
            out.append(f"Note: {meta['busy']}")
        out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()))
        out.append("")
    busy = [r for r in recs if r.get("compilers")]
    if busy:
        out.append(f"Note: {len(busy)} of {len(recs)} measurements ended while other compilers (cargo/rustc/cc/ld) were running; "
                   "those figures are noisier and lower than on an idle machine.")
        out.append("")
    scenarios = sorted({r["scenario"] for r in recs})
    rss_by = {}  # contender -> scenario -> peak
    for s in scenarios:
        title, cols = SCENARIOS[s]
        rows = [r for r in recs if r["scenario"] == s]
        contenders = [c for c in ORDER if any(r["contender"] == c for r in rows)]
        contenders += sorted({r["contender"] for r in rows} - set(contenders))
        out.append(f"### {s}. {title}")
        out.append("")
        head = ["contender"] + [c[1] for c in cols] + ["peak RSS MiB", "errors", "rounds ok"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        medians = {}
        for c in contenders:
            mine = [r for r in rows if r["contender"] == c]
            ok = [r for r in mine if r["status"] == "ok"]
            if not ok:
                reason = mine[0]["status"] if mine else "failed"
                out.append(f"| {c} | " + " | ".join([reason] * len(cols)) + f" | - | - | 0/{len(mine)} |")
                continue
            med = {}
            cells = []
            for key, _, kind in cols:
                vals = [r["metrics"].get(key) for r in ok if r["metrics"].get(key) is not None]
                if kind == "yes":
                    # Only a 429 actually seen counts; never assumed.
                    cells.append(f"yes ({len(vals)}/{len(ok)}), after {statistics.median(vals):.2f} s" if vals else "n/a")
                    continue
                # A percentile that fell on requests still unanswered at the end is only known
                # as a lower bound ("> X"): counted as +inf for the median.
                gts = [r["metrics"].get(key.replace("_ms", "_gt_ms")) for r in ok if r["metrics"].get(key) is None]
                gts = [g for g in gts if g is not None]
                v = statistics.median(vals + [float("inf")] * len(gts)) if vals or gts else None
                if v == float("inf"):
                    med[key] = None
                    cells.append(f"> {fmt(min(gts))}")
                else:
                    med[key] = v
                    cells.append(fmt(v))
            medians[c] = med
            peaks = [r["rss"].get("peak_rss_mib") for r in ok if r.get("rss", {}).get("peak_rss_mib")]
            peak = max(peaks) if peaks else None
            if peak is not None:
                rss_by.setdefault(c, {})[s] = peak
            errs = sum((r["metrics"].get("errors") or 0) + (r["metrics"].get("non2xx") or 0) for r in ok)
            out.append(f"| {c} | " + " | ".join(cells) + f" | {fmt(peak) if peak is not None else 'n/a'} | {errs} | {len(ok)}/{len(mine)} |")
        out.append("")
        ratio_lines = []
        for a, b in PAIRS:
            if a in medians and b in medians:
                parts = []
                for key, label, kind in cols:
                    if kind == "yes" or key in NO_RATIO:
                        continue
                    va, vb = medians[a].get(key), medians[b].get(key)
                    if va is not None and vb:
                        parts.append(f"{label} {va / vb:.3g}x")
                if parts:
                    ratio_lines.append(f"| {a} / {b} | " + ", ".join(parts) + " |")
        if ratio_lines:
            out.append("| ratio | value (req/s: higher is better for frontdoor; ms, s, MiB: lower is better) |")
            out.append("|---|---|")
            out.extend(ratio_lines)
            out.append("")
        if s == 2 and medians.get("frontdoor-auth", {}).get("rps"):
            base, where = None, ""
            if medians.get("frontdoor", {}).get("rps"):
                base, where = medians["frontdoor"]["rps"], "no login, interleaved in this scenario"
            else:
                s1 = [r["metrics"]["rps"] for r in recs if r["scenario"] == 1 and r["contender"] == "frontdoor"
                      and r["status"] == "ok" and r["metrics"].get("rps")]
                if s1:
                    base, where = statistics.median(s1), "scenario 1"
            if base:
                out.append(f"frontdoor with login / frontdoor without login ({where}): "
                           f"{medians['frontdoor-auth']['rps'] / base:.2f}x (goal >= 0.90)")
                if medians.get("frontdoor-key", {}).get("rps"):
                    out.append(f"frontdoor with an API key / frontdoor without login ({where}): "
                               f"{medians['frontdoor-key']['rps'] / base:.2f}x (goal >= 0.90)")
                out.append("")
        notes = [f"{r['contender']} round {r['round']}: {r['note']}" for r in rows if r.get("note")]
        for n in notes:
            out.append(f"- {n}")
        if notes:
            out.append("")
    if rss_by:
        out.append("### Peak RSS of each proxy (MiB, max over rounds; nginx = master + workers)")
        out.append("")
        out.append("| contender | " + " | ".join(f"s{s}" for s in scenarios) + " |")
        out.append("|---|" + "---:|" * len(scenarios))
        for c in ORDER + sorted(set(rss_by) - set(ORDER)):
            if c in rss_by:
                out.append(f"| {c} | " + " | ".join(fmt(rss_by[c].get(s)) if s in rss_by[c] else "-" for s in scenarios) + " |")
        out.append("")
    print("\n".join(out))


def main():
    cmds = {
        "freeport": cmd_freeport,
        "rss-watch": cmd_rss_watch,
        "parse-wrk": cmd_parse_wrk,
        "parse-h2load": cmd_parse_h2load,
        "sink": cmd_sink,
        "idle": cmd_idle,
        "flood": cmd_flood,
        "good": cmd_good,
        "record": cmd_record,
        "report": cmd_report,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
