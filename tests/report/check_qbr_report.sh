#!/usr/bin/env bash
# Renders qbr's report.html in headless Chromium, takes a screenshot, and checks that the page
# and its charts are there: the flow diagram, one MRR chart per account, the tool-call timeline
# with its bars, and the slides and audit tables.
#   check_qbr_report.sh QBR_BINARY CHROMIUM OUT_DIR
set -euo pipefail
qbr=$1 chromium=$2 out=$3
rm -rf "$out" && mkdir -p "$out"
"$qbr" --failure-rate 0.2 --seed 5 --latency-ms 20 --out "$out" > /dev/null
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --user-data-dir="$out/chrome-profile")
timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$out/report.html" > "$out/dom.html" 2>/dev/null
timeout 120 "$chromium" "${flags[@]}" --window-size=1000,2200 --screenshot="$out/report.png" "file://$out/report.html" \
  > /dev/null 2>&1
fail() { echo "report check failed: $*" >&2; exit 1; }
grep -q 'id="flow"' "$out/dom.html" || fail "no control-loop diagram"
[ "$(grep -o 'class="chart mrr"' "$out/dom.html" | wc -l)" -eq 3 ] || fail "expected 3 MRR charts for the west region"
grep -q 'id="timeline"' "$out/dom.html" || fail "no timeline"
[ "$(grep -o 'class="bar"' "$out/dom.html" | wc -l)" -ge 13 ] || fail "the timeline has fewer bars than tool calls"
grep -q 'id="slides"' "$out/dom.html" || fail "no slides table"
grep -q 'id="audit"' "$out/dom.html" || fail "no audit table"
[ -s "$out/report.png" ] && [ "$(stat -c %s "$out/report.png")" -gt 50000 ] || fail "no screenshot"
echo "report rendered: $(grep -o '<svg' "$out/dom.html" | wc -l) charts, screenshot $out/report.png"
