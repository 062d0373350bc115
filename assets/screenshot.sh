#!/usr/bin/env bash
# Regenerates assets/screenshot.png from a real run of `mpviz ticket` in tmux.
# Needs tmux, python3 with Pillow (pip install pillow) and DejaVu Sans Mono.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
session=mpviz-shot-$$
tmux new-session -d -s "$session" -x 110 -y 32 \
    "target/release/mpviz ticket --buyers 40 --tickets 10 --delay-ms 800 --speed 20 --seed 3"
sleep "${SHOT_AFTER:-7}"
tmux capture-pane -e -p -t "$session" > /tmp/mpviz-screen.ansi
tmux send-keys -t "$session" q
sleep 0.5
tmux kill-session -t "$session" 2>/dev/null || true
python3 assets/render_ansi.py /tmp/mpviz-screen.ansi assets/screenshot.png 110
echo "wrote assets/screenshot.png"
