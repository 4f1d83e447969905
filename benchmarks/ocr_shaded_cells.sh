#!/usr/bin/env bash
# devset ingest with the shaded-cell OCR pass (ingest.ocr.with_shaded_cells) off / on, alternating, default
# 2 workers. "off" raises SHADED_SHARE above 1 in the working tree for the run and puts it back after.
set -u
cd /work/main
for run in 1 2; do
  for variant in off on; do
    if [ $variant = off ]; then sed -i 's/^SHADED_SHARE = 0.08$/SHADED_SHARE = 2.0/' ingest/ocr.py; fi
    rm -rf /tmp/ocrb-$variant-$run
    start=$(date +%s.%N)
    OMP_NUM_THREADS=1 .venv/bin/pagerag ingest ../shared/devset/docs --index /tmp/ocrb-$variant-$run --quiet >/dev/null 2>&1
    end=$(date +%s.%N)
    sed -i 's/^SHADED_SHARE = 2.0$/SHADED_SHARE = 0.08/' ingest/ocr.py
    echo "$variant run$run $(echo "$end - $start" | bc) s load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
