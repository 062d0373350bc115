#!/usr/bin/env bash
# Regenerates assets/screenshot.png: a real run of `mpviz ticket`, in Chinese
# with its code panel, in a detached 120x36 tmux pane, captured with its
# colours and rendered to PNG.
#
#   bash assets/screenshot.sh                       # from the repository root
#   SHOT_FROM=5 SHOT_UNTIL=9 bash assets/screenshot.sh   # another time window
#   SHOT_LANG=en SHOT_OUT=/tmp/en.png bash assets/screenshot.sh   # in English
#
# Between SHOT_FROM and SHOT_UNTIL seconds after the start (6 and 8 by default)
# the pane is checked every 0.2 s, and captured as soon as a buyer is waiting
# at the gate (the header's "N at the gate", "N 个在闸口", with N > 0), so that the picture
# shows a lock holder, a line of waiters, buyers done, and one about to step;
# if that never happens in the window, it is captured at SHOT_UNTIL.
#
# Needs: cargo, tmux, python3 with Pillow (pip install pillow), and the DejaVu
# and WenQuanYi fonts (apt-get install fonts-dejavu-core fonts-wqy-microhei).
set -euo pipefail

cd "$(dirname "$0")/.."
COLS=120
ROWS=36
LANGUAGE=${SHOT_LANG:-zh}
FROM=${SHOT_FROM:-6}            # seconds after the start: earliest capture
UNTIL=${SHOT_UNTIL:-8}          # latest capture
OUT=${SHOT_OUT:-assets/screenshot.png}
CMD="target/release/mpviz ticket --buyers 40 --tickets 10 --delay-ms 800 --speed 20 --seed 3 --lang $LANGUAGE"

for tool in cargo tmux python3; do
    command -v "$tool" >/dev/null || { echo "screenshot.sh: $tool not found" >&2; exit 1; }
done
python3 -c 'import PIL' 2>/dev/null || { echo "screenshot.sh: pip install pillow" >&2; exit 1; }

cargo build --release --quiet

# A private tmux server with no user config, so nothing else changes the picture.
SOCKET="mpviz-shot-$$"
CAPTURE=$(mktemp /tmp/mpviz-screen.XXXXXX.ansi)
cleanup() {
    tmux -L "$SOCKET" kill-server 2>/dev/null || true
    rm -f "$CAPTURE"
}
trap cleanup EXIT

tmux -L "$SOCKET" -f /dev/null new-session -d -s shot -x "$COLS" -y "$ROWS" "$CMD"
sleep "$FROM"
polls=$(awk -v a="$FROM" -v b="$UNTIL" 'BEGIN { n = int((b - a) / 0.2); print (n > 0 ? n : 0) }')
ESC=$'\033'
for ((i = 0; ; i++)); do
    # -e keeps the SGR colour escapes, -N keeps trailing spaces (full-width rows).
    tmux -L "$SOCKET" capture-pane -e -N -p -t shot > "$CAPTURE"
    if ((i >= polls)) ||
        sed "s/${ESC}\[[0-9;:]*m//g" "$CAPTURE" | grep -Eq '(^|[^0-9])[1-9][0-9]* (at the gate|个在闸口)'; then
        break
    fi
    sleep 0.2
done
tmux -L "$SOCKET" send-keys -t shot q
sleep 1   # let mpviz stop its processes and restore the terminal

if ! grep -q '[^[:space:]]' "$CAPTURE"; then
    echo "screenshot.sh: the capture is empty; did mpviz start?" >&2
    exit 1
fi
python3 assets/render_ansi.py "$CAPTURE" "$OUT" --cols "$COLS" --rows "$ROWS"
