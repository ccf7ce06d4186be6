#!/usr/bin/env python3
"""Bounded loopback load for `genrenet serve` (standard library only): CONNECTIONS threads each
upload SONG to http://127.0.0.1:PORT/api/predict REQUESTS times, one request at a time per
thread. Prints one JSON object: latency percentiles, songs per second, failures."""
import json
import sys
import threading
import time
import urllib.request

port, song, connections, requests = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
body = open(song, "rb").read()
latencies, failures, lock = [], [0], threading.Lock()


def worker():
    for _ in range(requests):
        t = time.perf_counter()
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/predict?name=song.wav", data=body,
                                         headers={"Content-Type": "audio/wav"})
            with urllib.request.urlopen(req, timeout=600) as r:
                ok = r.status == 200 and b'"genre"' in r.read()
        except Exception:
            ok = False
        with lock:
            latencies.append(time.perf_counter() - t)
            failures[0] += 0 if ok else 1


start = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(connections)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - start
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(json.dumps({"connections": connections, "requests": len(latencies), "failed": failures[0],
                  "p50_s": pick(0.5), "p90_s": pick(0.9), "songs_per_s": len(latencies) / elapsed}))
