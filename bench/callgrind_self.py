#!/usr/bin/env python3
"""Self cost per function of a callgrind dump, divided by a unit count: callgrind_self.py <cg.out> [units] [top]."""
import sys, re, collections, subprocess
def parse(path):
    names = {}; self_ = collections.Counter(); incl = collections.Counter()
    fn = None; skip_next = False; cfn = None
    for line in open(path):
        line = line.rstrip("\n")
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, i, name = m.groups()
            if name: names[i] = name
            if kind == "fn": fn = i
            else: cfn = i
            continue
        if line.startswith("calls="):
            skip_next = True; continue
        if line and (line[0].isdigit() or line[0] in "+-*"):
            parts = line.split()
            if len(parts) >= 2:
                c = int(parts[1])
                if skip_next:
                    incl[(fn, cfn)] += c; skip_next = False
                else:
                    self_[fn] += c
    return names, self_
names, s = parse(sys.argv[1])
tot = sum(s.values()); div = float(sys.argv[2]) if len(sys.argv) > 2 else 1
top = s.most_common(int(sys.argv[3]) if len(sys.argv) > 3 else 40)
dem = subprocess.run(["c++filt"], input="\n".join(names.get(i, i) for i, _ in top), capture_output=True, text=True).stdout.split("\n")
print(f"total {tot} ({tot/div:.0f} per unit)")
for (i, c), n in zip(top, dem):
    print(f"{c/div:9.0f} {100*c/tot:5.1f}%  {n[:150]}")
