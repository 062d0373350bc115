"""Renders a terminal capture with SGR colour codes (tmux capture-pane -e -p)
to a PNG, one cell per character on a fixed grid.

Usage: python3 assets/render_ansi.py CAPTURE.ansi OUT.png [COLUMNS]
"""

import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
BG = (24, 26, 33)
FG = (215, 218, 224)
# The 16 basic colours, in a palette close to common dark terminals.
BASIC = [
    (40, 42, 54), (224, 108, 117), (152, 195, 121), (229, 192, 123),
    (97, 175, 239), (198, 120, 221), (86, 182, 194), (200, 204, 212),
    (92, 99, 112), (240, 128, 128), (170, 220, 140), (240, 210, 140),
    (120, 190, 250), (215, 140, 235), (110, 200, 210), (255, 255, 255),
]
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def color256(n):
    if n < 16:
        return BASIC[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    level = 8 + (n - 232) * 10
    return (level, level, level)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.reverse = False

    def apply(self, params):
        codes = [int(p) if p else 0 for p in re.split("[;:]", params)] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = BASIC[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASIC[c - 90 + 8]
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = BASIC[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASIC[c - 100 + 8]
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                mode = codes[i + 1]
                if mode == 5 and i + 2 < len(codes):
                    rgb = color256(codes[i + 2])
                    i += 2
                elif mode == 2 and i + 4 < len(codes):
                    rgb = tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    rgb = None
                if c == 38:
                    self.fg = rgb
                else:
                    self.bg = rgb
            i += 1

    def colors(self):
        fg = self.fg or FG
        bg = self.bg or BG
        if self.dim:
            fg = tuple((a + b) // 2 for a, b in zip(fg, BG))
        if self.reverse:
            fg, bg = bg, fg
        return fg, bg


def cells(text):
    """Yields rows of (char, fg, bg, bold)."""
    style = Style()
    for line in text.split("\n"):
        row = []
        pos = 0
        while pos < len(line):
            m = SGR.match(line, pos)
            if m:
                style.apply(m.group(1))
                pos = m.end()
                continue
            m = OTHER.match(line, pos)
            if m:
                pos = m.end()
                continue
            fg, bg = style.colors()
            row.append((line[pos], fg, bg, style.bold))
            pos += 1
        yield row


def main():
    source, out = sys.argv[1], sys.argv[2]
    columns = int(sys.argv[3]) if len(sys.argv) > 3 else 110
    with open(source, encoding="utf-8", errors="replace") as f:
        rows = list(cells(f.read().rstrip("\n")))
    font = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(FONT_BOLD, SIZE)
    left, top, right, bottom = font.getbbox("█")
    cw = round(font.getlength("M"))
    ch = SIZE + 4
    pad = 12
    img = Image.new("RGB", (columns * cw + 2 * pad, len(rows) * ch + 2 * pad), BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(rows):
        for x, (char, fg, bg, is_bold) in enumerate(row[:columns]):
            px, py = pad + x * cw, pad + y * ch
            if bg != BG:
                draw.rectangle([px, py, px + cw - 1, py + ch - 1], fill=bg)
            if char == " ":
                continue
            if char in "─━":
                draw.line([px, py + ch // 2, px + cw, py + ch // 2], fill=fg)
            elif char in "│┃║":
                draw.line([px + cw // 2, py, px + cw // 2, py + ch], fill=fg)
            elif char in "┌┐└┘":
                cx, cy = px + cw // 2, py + ch // 2
                horizontal = [cx, cy, px + cw, cy] if char in "┌└" else [px, cy, cx, cy]
                vertical = [cx, cy, cx, py + ch] if char in "┌┐" else [cx, py, cx, cy]
                draw.line(horizontal, fill=fg)
                draw.line(vertical, fill=fg)
            else:
                draw.text((px, py + 2), char, font=bold if is_bold else font, fill=fg)
    img.save(out, optimize=True)


if __name__ == "__main__":
    main()
