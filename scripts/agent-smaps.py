#!/usr/bin/env python3
"""Where a running process's resident memory is: per mapping (/proc/PID/smaps) and, for its own
executable, per ELF section (resident pages from /proc/PID/pagemap; needs root).

    sudo python3 scripts/agent-smaps.py PID
Used for BENCHMARKS.md's per-mapping tables of the idle agent (bok-bench agent-idle starts it)."""
import os, re, struct, subprocess, sys
from collections import defaultdict

pid = int(sys.argv[1])
exe = os.readlink(f"/proc/{pid}/exe")
maps = []  # (start, end, offset, path, rss_kb, anon_kb)
cur = None
with open(f"/proc/{pid}/smaps") as f:
    for line in f:
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$", line)
        if m:
            cur = [int(m[1], 16), int(m[2], 16), int(m[4], 16), m[5].strip() or "[anon]", 0, 0, m[3]]
            maps.append(cur)
        elif line.startswith("Rss:"):
            cur[4] = int(line.split()[1])
        elif line.startswith("Anonymous:"):
            cur[5] = int(line.split()[1])
status = {l.split(":")[0]: l.split(":")[1].strip() for l in open(f"/proc/{pid}/status")}
print(f"pid {pid} {exe}: VmRSS {status['VmRSS']}, RssAnon {status['RssAnon']}, RssFile {status['RssFile']}, Threads {status['Threads']}")
by = defaultdict(lambda: [0, 0])
for s, e, off, path, rss, anon, perm in maps:
    key = os.path.basename(path) if path.startswith("/") else path
    by[key][0] += rss
    by[key][1] += anon
print(f"{'mapping':40} {'RSS KiB':>8} {'anon KiB':>9}")
for k, (rss, anon) in sorted(by.items(), key=lambda kv: -kv[1][0]):
    if rss:
        print(f"{k:40} {rss:8} {anon:9}")

# Per ELF section of the executable: which of its pages are resident.
try:
    out = subprocess.run(["readelf", "-SW", exe], capture_output=True, text=True).stdout
except FileNotFoundError:
    sys.exit(0)
sections = []
for line in out.splitlines():
    m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
    if m and int(m[2], 16):
        sections.append((m[1], int(m[2], 16), int(m[4], 16)))
base = min(s for s, e, off, path, *_ in maps if path == exe) - min(off for s, e, off, path, *_ in maps if path == exe)
# PIE: the first mapping of the file is at vaddr 0 + base (offset 0 ↔ vaddr 0 for the first PT_LOAD).
page = os.sysconf("SC_PAGE_SIZE")
try:
    pm = open(f"/proc/{pid}/pagemap", "rb")
except OSError:
    sys.exit(0)
def resident(start, end):
    n = 0
    for a in range(start - start % page, end, page):
        pm.seek(a // page * 8)
        v = struct.unpack("<Q", pm.read(8))[0]
        if v >> 63 & 1:
            n += 1
    return n * page // 1024
print(f"\n{os.path.basename(exe)} per ELF section (resident KiB / size KiB):")
rows = []
for name, addr, size in sections:
    rows.append((resident(base + addr, base + addr + size), size // 1024, name))
for r, size, name in sorted(rows, reverse=True):
    if r:
        print(f"  {name:28} {r:8} / {size}")
