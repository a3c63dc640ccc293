"""Writes the NAB extract the tests use (run from the repository root, NAB at ../shared/data/nab).

Source: github.com/numenta/NAB at commit ea702d7, MIT licence (c) Numenta, Inc. The extract
keeps 7 of its 58 files: their timestamps and values, the raw anomaly scores of the
``numenta`` (HTM) and ``windowedGaussian`` detectors, the files' windows, and NAB's published
per-file scores of both detectors at their published thresholds (``results/<det>/*_scores.csv``).
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

NAB = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/nab")
OUT = Path(__file__).resolve().parent
FILES = [
    "artificialNoAnomaly/art_daily_small_noise.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
    "realAdExchange/exchange-4_cpc_results.csv",
    "realKnownCause/ec2_request_latency_system_failure.csv",
    "realKnownCause/rogue_agent_key_hold.csv",
    "realTraffic/TravelTime_387.csv",
]
DETECTORS = ["numenta", "windowedGaussian"]
PROFILES = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def main() -> None:
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    thresholds = json.loads((NAB / "config" / "thresholds.json").read_text())
    with gzip.open(OUT / "nab_extract.csv.gz", "wt", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "timestamp", "value", *DETECTORS])
        for name in FILES:
            folder, file = name.split("/")
            data = rows(NAB / "data" / name)
            scores = {d: rows(NAB / "results" / d / folder / f"{d}_{file}") for d in DETECTORS}
            for i, row in enumerate(data):
                w.writerow(
                    [name, row["timestamp"], row["value"]]
                    + [scores[d][i]["anomaly_score"] for d in DETECTORS]
                )
    published: dict[str, dict[str, dict[str, object]]] = {}
    for d in DETECTORS:
        published[d] = {}
        for p in PROFILES:
            per_file = {
                r["File"]: float(r["Score"])
                for r in rows(NAB / "results" / d / f"{d}_{p}_scores.csv")
                if r["File"] in FILES
            }
            published[d][p] = {"threshold": thresholds[d][p]["threshold"], "files": per_file}
    meta = {
        "source": "github.com/numenta/NAB at ea702d7, MIT licence (c) Numenta, Inc.",
        "windows": {name: windows[name] for name in FILES},
        "published": published,
    }
    (OUT / "nab_extract.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
