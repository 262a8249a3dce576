"""Load and abuse the web app over real HTTP on 127.0.0.1 (`handpose serve` in a subprocess, or --url).

    .venv/bin/python bench/web_load.py --weights MODEL --clients 8 --seconds 30 --malformed 400

1. Load: N clients (threads, one keep-alive connection each) post real photos (mini-example, or --images)
   for T seconds, alternating raw bodies and multipart uploads: requests/s, p50/p95/p99 latency, errors
   (anything but 200, or a failed connection).
2. Malformed: hundreds of bad bodies (random bytes, truncated and corrupted JPEG/PNG, oversized, mislabelled,
   empty, wrong field, broken multipart, decompression bombs, GIF) from the same N clients: the statuses by
   kind, any 5xx, and lost connections (no status line read). Each is sent as a careful client does: the body
   in chunks, stopping to read as soon as the server answers early (as it does for a refused size).
"""
from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import select
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "data" / "datasets" / "mini-example"
HOST = "127.0.0.1"  # only ever loopback


# -- the server -----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(weights: str | None, workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [str(ROOT / ".venv" / "bin" / "handpose"), "serve", "--host", HOST, "--port", str(port),
           "--workers", str(workers)] + (["--weights", weights] if weights else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server did not start:\n{proc.stdout.read()}")
        try:
            c = http.client.HTTPConnection(HOST, port, timeout=2)
            c.request("GET", "/api/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.5)
    proc.kill()
    sys.exit("the server did not answer /api/health within 120 s")


# -- load -----------------------------------------------------------------------------------------------------
def multipart(data: bytes, name: str, field: str = "image", boundary: str = "hp-bench-7d1f") -> tuple[bytes, str]:
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def load_run(port: int, images: list[tuple[str, bytes]], clients: int, seconds: float):
    latencies: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    bar = tqdm(total=round(seconds), desc=f"load, {clients} clients", unit="s")

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        i = k
        while time.perf_counter() < deadline:
            name, data = images[i % len(images)]
            body, ctype = multipart(data, name) if i % 2 else (data, "image/jpeg")
            i += clients
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/predict", body=body, headers={"Content-Type": ctype})
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
                err = None if ok else f"HTTP {r.status}"
            except (OSError, http.client.HTTPException) as e:
                err = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=120)
            with lock:
                if err:
                    errors[err] += 1
                else:
                    latencies.append(time.perf_counter() - t0)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        bar.n = min(round(time.perf_counter() - start), bar.total)
        bar.refresh()
    bar.close()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - start


# -- malformed ------------------------------------------------------------------------------------------------
def png_bomb(side: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")

    raw = zlib.compress((b"\x00" + bytes((side + 7) // 8)) * side, 9)
    ihdr = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def malformed_bodies(images: list[tuple[str, bytes]], n: int, seed: int = 0) -> list[tuple[str, bytes, dict]]:
    """(kind, body, headers) triples; the kinds cycle so each appears about n / len(kinds) times."""
    rng = random.Random(seed)
    jpgs = [d for _, d in images]
    pngs = []
    for d in jpgs[:4]:
        buf = io.BytesIO()
        Image.open(io.BytesIO(d)).save(buf, "PNG")
        pngs.append(buf.getvalue())
    gif = io.BytesIO()
    Image.open(io.BytesIO(jpgs[0])).save(gif, "GIF")
    bombs = [png_bomb(s) for s in (8_000, 30_000)]

    def corrupt(d: bytes) -> bytes:
        b = bytearray(d)
        for _ in range(rng.randint(1, 50)):
            b[rng.randrange(20, len(b))] = rng.randrange(256)
        return bytes(b)

    def raw(body: bytes, ctype: str | None = "image/jpeg") -> tuple[bytes, dict]:
        return body, ({"Content-Type": ctype} if ctype else {})

    def form(body: bytes, field: str = "image") -> tuple[bytes, dict]:
        b, ctype = multipart(body, "upload.jpg", field)
        return b, {"Content-Type": ctype}

    makers = {
        "random bytes": lambda: raw(os.urandom(rng.choice([1, 10, 1000, 100_000, 900_000]))),
        "random bytes, multipart": lambda: form(os.urandom(rng.randint(1, 200_000))),
        "truncated JPEG": lambda: raw((d := rng.choice(jpgs))[: rng.randrange(1, len(d))]),
        "truncated PNG": lambda: raw((d := rng.choice(pngs))[: rng.randrange(1, len(d))], "image/png"),
        "corrupted JPEG": lambda: form(corrupt(rng.choice(jpgs))),
        "corrupted PNG": lambda: raw(corrupt(rng.choice(pngs)), "image/png"),
        "oversized (1-4 MB)": lambda: raw(rng.choice(jpgs) + os.urandom(rng.randint(1_000_001, 4_000_000))),
        "oversized multipart": lambda: form(os.urandom(rng.randint(1_000_001, 3_000_000))),
        "oversized (6-40 MB)": lambda: raw(os.urandom(rng.randint(6_000_000, 40_000_000))),
        "JPEG labelled text/plain": lambda: raw(rng.choice(jpgs), "text/plain"),
        "text labelled image/jpeg": lambda: raw(b"hello " * rng.randint(1, 5000)),
        "PNG labelled image/jpeg": lambda: raw(rng.choice(pngs)),
        "GIF": lambda: form(gif.getvalue()),
        "empty body": lambda: raw(b""),
        "no Content-Type": lambda: raw(os.urandom(rng.randint(1, 5000)), None),
        "wrong field": lambda: form(rng.choice(jpgs), "photo"),
        "broken multipart": lambda: (os.urandom(rng.randint(10, 5000)),
                                     {"Content-Type": "multipart/form-data; boundary=zzz"}),
        "decompression bomb": lambda: form(rng.choice(bombs)),
        "JSON body": lambda: raw(b'{"image": "aGVsbG8="}', "application/json"),
    }
    kinds = list(makers)
    return [(k, *makers[k]()) for k in (kinds[i % len(kinds)] for i in range(n))]


def send_raw(port: int, body: bytes, headers: dict, timeout: float = 60) -> int | str:
    """POST /api/predict on a fresh connection; the status, or why no status line came back."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (f"POST /api/predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Length: {len(body)}\r\n"
               f"{head}Connection: close\r\n\r\n").encode()
    data = b""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(request)
            view, sent = memoryview(body), 0
            while sent < len(body):  # send, but stop as soon as the server has answered (an early refusal)
                readable, writable, _ = select.select([s], [s], [], timeout)
                if readable:
                    break
                if writable:
                    sent += s.send(view[sent : sent + 65536])
            while not data.count(b"\r\n\r\n") or data.startswith(b"HTTP/1.1 100") and data.count(b"\r\n\r\n") < 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        if not data.startswith(b"HTTP/"):
            return f"lost ({type(e).__name__})"
    lines = [ln for ln in data.split(b"\r\n") if ln.startswith(b"HTTP/1.") and not ln.startswith(b"HTTP/1.1 100")]
    return int(lines[0].split()[1]) if lines else "lost (no status line)"


def malformed_run(port: int, bodies: list, clients: int):
    results: dict[str, Counter] = defaultdict(Counter)
    lock = threading.Lock()
    queue = list(enumerate(bodies))
    bar = tqdm(total=len(bodies), desc="malformed", unit="req")

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                _, (kind, body, headers) = queue.pop()
            outcome = send_raw(port, body, headers)
            with lock:
                results[kind][outcome] += 1
                bar.update()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    return results


# -- main -----------------------------------------------------------------------------------------------------
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="model for the server (default: the bundled one)")
    p.add_argument("--port", type=int, default=None, help="use a server already listening on 127.0.0.1:PORT")
    p.add_argument("--workers", type=int, default=4, help="server threads (when this script starts the server)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--malformed", type=int, default=400, help="number of malformed requests (0: skip)")
    p.add_argument("--images", default=str(MINI), help="folder searched for .jpg photos to post")
    args = p.parse_args()

    images = [(f.name, f.read_bytes()) for f in sorted(Path(args.images).rglob("*.jpg"))]
    if not images:
        sys.exit(f"no .jpg under {args.images}")
    proc, port = (None, args.port) if args.port else start_server(args.weights, args.workers)
    try:
        lat, errors, wall = load_run(port, images, args.clients, args.seconds)
        ms = np.array(lat) * 1000
        n = len(lat) + sum(errors.values())
        print(f"\nload: {args.clients} clients for {args.seconds:.0f} s, {len(images)} photos, "
              f"server threads {args.workers if proc else '?'}, cpu count {os.cpu_count()}")
        print("| requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        pct = np.percentile(ms, [50, 95, 99]) if len(ms) else [float("nan")] * 3
        print(f"| {n} | {len(lat) / wall:.1f} | {pct[0]:.0f} | {pct[1]:.0f} | {pct[2]:.0f} | "
              f"{ms.max() if len(ms) else float('nan'):.0f} | {sum(errors.values())} |")
        if errors:
            print("errors:", dict(errors))
        if args.malformed:
            results = malformed_run(port, malformed_bodies(images, args.malformed), args.clients)
            print(f"\nmalformed: {args.malformed} requests, {args.clients} clients")
            print("| kind | n | answers |")
            print("|---|---:|---|")
            total = Counter()
            for kind, c in results.items():
                total.update(c)
                print(f"| {kind} | {sum(c.values())} | "
                      + ", ".join(f"{k}: {v}" for k, v in sorted(c.items(), key=lambda kv: str(kv[0]))) + " |")
            fivexx = sum(v for k, v in total.items() if isinstance(k, int) and k >= 500)
            lost = sum(v for k, v in total.items() if isinstance(k, str))
            print(f"\n5xx responses: {fivexx}; lost connections: {lost}; all answers: "
                  + ", ".join(f"{k}: {v}" for k, v in sorted(total.items(), key=lambda kv: str(kv[0]))))
            # the server still serves a good request afterwards
            c = http.client.HTTPConnection(HOST, port, timeout=60)
            c.request("POST", "/api/predict", body=images[0][1], headers={"Content-Type": "image/jpeg"})
            print(f"a good request afterwards: HTTP {c.getresponse().status}")
        if proc:  # peak resident memory of the server over both runs
            hwm = [ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if ln.startswith("VmHWM")]
            print(f"server peak memory (VmHWM): {hwm[0].split(':')[1].strip() if hwm else '?'}")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
