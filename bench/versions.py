#!/usr/bin/env python3
"""Side by side: the same benchmark on two PostgreSQL versions (bench/run --postgres 15,18 runs
one after the other and calls this). Each version's figures are compared with its own floors,
measured in its own run: the ratios are what carries across versions, the machine drifts."""
import json
import sys


def load(path):
    d = json.load(open(path))
    rows = {(r["workload"], r["system"], r["batch"], r["sync"]): r["median"] for r in d["summary"]}
    return d["settings"]["server_version"].split()[0], rows, d.get("extras", {})


def main():
    runs = [load(p) for p in sys.argv[1:]]
    versions = [v for v, _, _ in runs]
    keys = sorted({k for _, rows, _ in runs for k in rows}, key=lambda k: (k[0], k[2], not k[3], k[1]))
    print("medians, jobs/s; ×F1 = against FLOOR-1 of the same version's run")
    print(f"{'workload':8} {'B':>4} {'sync':4} {'system':18}" + "".join(f" {'PG ' + v:>12} {'×F1':>5}" for v in versions))
    for k in keys:
        w, system, b, sync = k
        line = f"{w:8} {b:>4} {'on' if sync else 'off':4} {system:18}"
        for _, rows, _ in runs:
            v, floor = rows.get(k), rows.get((w, "floor1", b, sync))
            line += f" {v:>12,.0f}" if v is not None else f" {'-':>12}"
            line += f" {v / floor:>5.2f}" if v is not None and floor else f" {'':>5}"
        print(line)
    for version, _, extras in runs:
        w6 = extras.get("W6")
        if w6:
            print(f"W6 PG {version}: {w6['scheduled']:,} scheduled in {w6['groups']:,} groups: "
                  f"{w6['with']['jobs_per_second']:,.0f} jobs/s with, {w6['without']['jobs_per_second']:,.0f} without "
                  f"(ratio {w6['ratio']:.2f}); empty claim p50/p99 {w6['with']['empty_claim_p50_ms']:.2f}/"
                  f"{w6['with']['empty_claim_p99_ms']:.2f} ms with, {w6['without']['empty_claim_p50_ms']:.2f}/"
                  f"{w6['without']['empty_claim_p99_ms']:.2f} ms without")


if __name__ == "__main__":
    main()
