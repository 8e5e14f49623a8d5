#!/usr/bin/env python3
"""CPU seconds per CMake target from bench/build_time.sh's launcher logs:
  python3 bench/build_time_sum.py /tmp/qmesh-build-time/tu-<commit>-<kind>.log [...]"""
import sys, re, collections
for f in sys.argv[1:]:
    c = collections.Counter(); n = collections.Counter(); peak = 0
    for line in open(f):
        p = line.split()
        if len(p) < 5 or not re.match(r'^[0-9.]+$', p[0]): continue
        u, s, e, m, out = float(p[0]), float(p[1]), float(p[2]), int(p[3]), p[4]
        mm = re.search(r'CMakeFiles/([^/]+)\.dir', out)
        t = mm.group(1) if mm else ('link:' + out.split('/')[-1])
        c[t] += u + s; n[t] += 1; peak = max(peak, m)
    tot = sum(c.values())
    print(f"{f}: {tot:.0f} CPU s in {sum(n.values())} compiler/linker runs, peak RSS {peak/1024:.0f} MB")
    for t, v in c.most_common(12): print(f"   {t:40} {v:7.1f} s  ({n[t]} runs)")
