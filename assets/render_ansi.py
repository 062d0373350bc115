#!/usr/bin/env python3
"""Render a terminal capture with SGR colour escapes to a PNG.

The capture is what `tmux capture-pane -e -p` prints: one line per terminal
row, text interleaved with SGR sequences (ESC [ ... m).  Every character is
drawn on a fixed grid of cells, at column * cell_width, so panels and boxes
line up exactly as they do in the terminal.  Box-drawing, block and braille
characters are drawn as shapes that fill the whole cell (no gaps between
rows); everything else comes from DejaVu Sans Mono (Chinese from WenQuanYi
Micro Hei).

Usage: python3 assets/render_ansi.py CAPTURE OUT.png [--cols N] [--rows N]
                                     [--font-size PX]

Needs Pillow (pip install pillow).  Unknown or malformed escapes are skipped.
"""

import argparse
import os
import re
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu",
    "/Library/Fonts",
    "/usr/share/fonts/truetype/wqy",
]
FONT_FILES = {
    "regular": "DejaVuSansMono.ttf",
    "bold": "DejaVuSansMono-Bold.ttf",
    "italic": "DejaVuSansMono-Oblique.ttf",
    "bolditalic": "DejaVuSansMono-BoldOblique.ttf",
}
# Tried, in order, for characters the monospace font has no glyph for.
# WenQuanYi Micro Hei draws Chinese (apt-get install fonts-wqy-microhei).
FALLBACK_FILES = ["DejaVuSans.ttf", "DejaVuMathTeXGyre.ttf", "wqy-microhei.ttc"]

# A dark theme: window background, default foreground, and the 16 ANSI colours.
BACKGROUND = (30, 32, 40)
FOREGROUND = (220, 223, 228)
ANSI16 = [
    (40, 44, 52),     # 0 black
    (232, 106, 112),  # 1 red
    (140, 200, 110),  # 2 green
    (230, 190, 100),  # 3 yellow
    (100, 170, 240),  # 4 blue
    (205, 125, 225),  # 5 magenta
    (80, 195, 210),   # 6 cyan
    (195, 199, 207),  # 7 white (light grey)
    (100, 106, 120),  # 8 bright black (grey)
    (250, 130, 135),  # 9 bright red
    (165, 225, 135),  # 10 bright green
    (245, 210, 125),  # 11 bright yellow
    (130, 190, 255),  # 12 bright blue
    (225, 150, 240),  # 13 bright magenta
    (110, 220, 230),  # 14 bright cyan
    (250, 250, 252),  # 15 bright white
]
DIM_KEEP = 0.55  # a dim colour keeps this share of itself, the rest is background
PADDING = 14     # pixels around the terminal area
MAX_BYTES = 300_000  # above this the PNG is saved with a 256-colour palette

CSI = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])")
OSC = re.compile(r"\x1b\].*?(?:\x07|\x1b\\)", re.S)
STRING_ESC = re.compile(r"\x1b[PX^_].*?\x1b\\", re.S)  # DCS, SOS, PM, APC
OTHER_ESC = re.compile(r"\x1b[ -/]*[0-~]?")


# ----------------------------------------------------------------- colours --

def xterm256(n):
    n = max(0, min(255, n))
    if n < 16:
        return ANSI16[n]
    if n < 232:
        n -= 16
        level = [0, 95, 135, 175, 215, 255]
        return (level[n // 36], level[(n // 6) % 6], level[n % 6])
    grey = 8 + 10 * (n - 232)
    return (grey, grey, grey)


def mix(a, b, share_a):
    return tuple(round(x * share_a + y * (1 - share_a)) for x, y in zip(a, b))


class Pen:
    """The SGR state: what the next printed character looks like."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None  # None is the terminal's default colour
        self.bg = None
        self.bold = self.dim = self.italic = False
        self.underline = self.reverse = self.hidden = self.strike = False

    def copy(self):
        other = Pen()
        other.__dict__.update(self.__dict__)
        return other

    def apply(self, params):
        """Applies one SGR parameter string such as '0;1;38;5;6' or '38:2::1:2:3'."""
        groups = []  # each group: a list of ints (colon sub-parameters stay together)
        for part in params.split(";") if params else [""]:
            subs = part.split(":")
            try:
                groups.append([int(s) if s else 0 for s in subs])
            except ValueError:
                return  # not a number: ignore the whole sequence
        flat = groups
        i = 0
        while i < len(flat):
            g = flat[i]
            code = g[0]
            if code in (38, 48, 58):
                if len(g) > 1:  # colon form: 38:5:n or 38:2:[cs]:r:g:b
                    colour = self._extended(g[1:])
                    i += 1
                else:  # semicolon form
                    rest = [x[0] for x in flat[i + 1:i + 6]]
                    colour, used = self._extended_semicolon(rest)
                    i += 1 + used
                if code == 38:
                    self.fg = colour
                elif code == 48:
                    self.bg = colour
                continue
            self._simple(code)
            i += 1

    @staticmethod
    def _extended(sub):
        if sub and sub[0] == 5 and len(sub) >= 2:
            return xterm256(sub[1])
        if sub and sub[0] == 2:
            rgb = sub[-3:] if len(sub) >= 4 else sub[1:] + [0] * (4 - len(sub))
            return tuple(max(0, min(255, c)) for c in rgb)
        return None

    @staticmethod
    def _extended_semicolon(rest):
        if rest and rest[0] == 5 and len(rest) >= 2:
            return xterm256(rest[1]), 2
        if rest and rest[0] == 2 and len(rest) >= 4:
            return tuple(max(0, min(255, c)) for c in rest[1:4]), 4
        return None, min(len(rest), 1)

    def _simple(self, code):
        if code == 0:
            self.reset()
        elif code == 1:
            self.bold = True
        elif code == 2:
            self.dim = True
        elif code == 3:
            self.italic = True
        elif code in (4, 21):
            self.underline = True
        elif code == 7:
            self.reverse = True
        elif code == 8:
            self.hidden = True
        elif code == 9:
            self.strike = True
        elif code == 22:
            self.bold = self.dim = False
        elif code == 23:
            self.italic = False
        elif code == 24:
            self.underline = False
        elif code == 27:
            self.reverse = False
        elif code == 28:
            self.hidden = False
        elif code == 29:
            self.strike = False
        elif 30 <= code <= 37:
            self.fg = ANSI16[code - 30]
        elif code == 39:
            self.fg = None
        elif 40 <= code <= 47:
            self.bg = ANSI16[code - 40]
        elif code == 49:
            self.bg = None
        elif 90 <= code <= 97:
            self.fg = ANSI16[code - 90 + 8]
        elif 100 <= code <= 107:
            self.bg = ANSI16[code - 100 + 8]
        # anything else (blink, fonts, overline, ...) does not change the picture

    def colours(self):
        """(foreground, background) as RGB, after dim and reverse."""
        fg = self.fg if self.fg is not None else FOREGROUND
        bg = self.bg if self.bg is not None else BACKGROUND
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = mix(fg, bg, DIM_KEEP)
        if self.hidden:
            fg = bg
        return fg, bg


# ------------------------------------------------------------------ parsing --

def cell_width(ch):
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def parse(text):
    """Returns rows of cells; a cell is (char, Pen) or None (covered by a wide char)."""
    rows = []
    pen = Pen()
    text = OSC.sub("", text)
    text = STRING_ESC.sub("", text)
    for line in text.split("\n"):
        row = []
        pos = 0
        while pos < len(line):
            ch = line[pos]
            if ch == "\x1b":
                m = CSI.match(line, pos)
                if m:
                    if m.group(3) == "m" and not m.group(2):
                        pen.apply(m.group(1))
                    pos = m.end()
                    continue
                m = OTHER_ESC.match(line, pos)
                pos = m.end() if m and m.end() > pos else pos + 1
                continue
            pos += 1
            if ch == "\t":
                for _ in range(8 - len(row) % 8):
                    row.append((" ", pen.copy()))
                continue
            if ch == "\r":
                continue
            if ord(ch) < 32 or ord(ch) == 127:
                continue
            width = cell_width(ch)
            if width == 0:
                continue  # combining marks are not drawn (none in the dashboard)
            row.append((ch, pen.copy()))
            if width == 2:
                row.append(None)
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows


# ------------------------------------------------------------------- fonts --

def find_font(name):
    for d in FONT_DIRS:
        path = os.path.join(d, name)
        if os.path.exists(path):
            return path
    return None


class Fonts:
    def __init__(self, size):
        regular = find_font(FONT_FILES["regular"])
        if regular is None:
            sys.exit("render_ansi.py: DejaVu Sans Mono not found "
                     "(apt-get install fonts-dejavu-core)")
        self.faces = {}
        for key, name in FONT_FILES.items():
            self.faces[key] = ImageFont.truetype(find_font(name) or regular, size)
        self.fallbacks = [ImageFont.truetype(p, size)
                          for p in map(find_font, FALLBACK_FILES) if p]
        self._missing = {}
        self._choice = {}

    def _has(self, font, ch):
        key = id(font)
        if key not in self._missing:
            m = font.getmask("\U0010fffd")
            self._missing[key] = (m.size, bytes(m))
        m = font.getmask(ch)
        return (m.size, bytes(m)) != self._missing[key]

    def pick(self, ch, bold, italic):
        """The font to draw ch with, or None if no font has it."""
        key = (ch, bold, italic)
        if key not in self._choice:
            face = self.faces[("bold" if bold else "") + ("italic" if italic else "")
                              or "regular"]
            choice = None
            for font in [face] + self.fallbacks:
                if self._has(font, ch):
                    choice = font
                    break
            self._choice[key] = choice
        return self._choice[key]


# ------------------------------------------------------------------ shapes --

WEIGHTS = {"LIGHT": 1, "SINGLE": 1, "HEAVY": 2, "DOUBLE": 3}
DIRECTIONS = {"UP": ("up",), "DOWN": ("down",), "LEFT": ("left",), "RIGHT": ("right",),
              "VERTICAL": ("up", "down"), "HORIZONTAL": ("left", "right")}


def box_arms(ch):
    """For a box-drawing character, {direction: weight} read from its Unicode name,
    e.g. 'BOX DRAWINGS DOWN SINGLE AND RIGHT DOUBLE' -> {down: 1, right: 3}.
    Returns None for diagonals and anything the name does not describe."""
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    if not name.startswith("BOX DRAWINGS ") or "DIAGONAL" in name:
        return None
    text = name[len("BOX DRAWINGS "):]
    for dashes in ("DOUBLE DASH", "TRIPLE DASH", "QUADRUPLE DASH", "ARC"):
        text = text.replace(dashes, "")  # dashed lines and round corners: drawn solid
    arms = {}
    weight = 1
    for group in text.split(" AND "):
        tokens = group.split()
        dirs = [d for t in tokens for d in DIRECTIONS.get(t, ())]
        named = [WEIGHTS[t] for t in tokens if t in WEIGHTS]
        if named:
            weight = named[0]
        for d in dirs:
            arms[d] = weight
    return arms or None


def draw_box(draw, ch, x0, y0, cw, chh, colour, thin):
    arms = box_arms(ch)
    if arms is None:
        return False
    cx = x0 + cw // 2
    cy = y0 + chh // 2
    x1, y1 = x0 + cw, y0 + chh
    gap = max(thin + 1, cw // 5)  # half the distance between double lines

    def hbar(xa, xb, y, w):
        if xb < xa:
            xa, xb = xb, xa
        top = y - (w - 1) // 2
        draw.rectangle([xa, top, xb - 1, top + w - 1], fill=colour)

    def vbar(ya, yb, x, w):
        if yb < ya:
            ya, yb = yb, ya
        left = x - (w - 1) // 2
        draw.rectangle([left, ya, left + w - 1, yb - 1], fill=colour)

    def width_of(weight):
        return thin if weight == 1 else 2 * thin + 1

    for d, weight in arms.items():
        vertical = d in ("up", "down")
        sign = -1 if d in ("up", "left") else 1
        centre = cy if vertical else cx
        end = (y0 if d == "up" else y1) if vertical else (x0 if d == "left" else x1)
        bar = vbar if vertical else hbar
        across = [arms.get(a, 0) for a in (("left", "right") if vertical else ("up", "down"))]
        if weight == 3:
            # Two parallel lines; at a corner or tee the line on the side of the
            # crossing arm stops at the near line, the other runs to the far one.
            for side, beside in zip((-1, 1), ("left", "right") if vertical else ("up", "down")):
                start = centre + sign * gap * (1 if beside in arms else -1)
                if not any(across):
                    start = centre
                bar(start, end, (cx if vertical else cy) + side * gap, thin)
        else:
            w = width_of(weight)
            if 3 in across:  # a single stem meets a double line: stop at the near line
                start = centre + sign * gap
            elif any(across):  # overlap the crossing line so the corner is closed
                start = centre - sign * ((width_of(max(across)) - 1) // 2)
            else:
                start = centre - sign * ((w - 1) // 2)
            bar(start, end, cx if vertical else cy, w)
    return True


def draw_block(draw, ch, x0, y0, cw, chh, fg, bg):
    """Block elements U+2580..U+259F, drawn to fill the cell exactly."""
    o = ord(ch)
    if not 0x2580 <= o <= 0x259F:
        return False
    x1, y1 = x0 + cw, y0 + chh

    def rect(xa, ya, xb, yb, colour=fg):
        if xb > xa and yb > ya:
            draw.rectangle([xa, ya, xb - 1, yb - 1], fill=colour)

    if o == 0x2580:
        rect(x0, y0, x1, y0 + chh // 2)
    elif 0x2581 <= o <= 0x2588:  # lower 1/8 .. full block
        eighths = o - 0x2580
        rect(x0, y1 - round(chh * eighths / 8), x1, y1)
    elif 0x2589 <= o <= 0x258F:  # left 7/8 .. left 1/8
        eighths = 0x2590 - o
        rect(x0, y0, x0 + max(1, round(cw * eighths / 8)), y1)
    elif o == 0x2590:
        rect(x0 + cw // 2, y0, x1, y1)
    elif 0x2591 <= o <= 0x2593:  # light, medium, dark shade
        rect(x0, y0, x1, y1, mix(fg, bg, (o - 0x2590) / 4))
    elif o == 0x2594:
        rect(x0, y0, x1, y0 + max(1, round(chh / 8)))
    elif o == 0x2595:
        rect(x1 - max(1, round(cw / 8)), y0, x1, y1)
    else:  # quadrants
        quads = {0x2596: "3", 0x2597: "4", 0x2598: "1", 0x2599: "134",
                 0x259A: "14", 0x259B: "123", 0x259C: "124", 0x259D: "2",
                 0x259E: "23", 0x259F: "234"}[o]
        mx, my = x0 + cw // 2, y0 + chh // 2
        boxes = {"1": (x0, y0, mx, my), "2": (mx, y0, x1, my),
                 "3": (x0, my, mx, y1), "4": (mx, my, x1, y1)}
        for q in quads:
            rect(*boxes[q])
    return True


def draw_braille(draw, ch, x0, y0, cw, chh, fg):
    o = ord(ch)
    if not 0x2800 <= o <= 0x28FF:
        return False
    bits = o - 0x2800
    dots = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
    r = max(1, cw // 6)
    for bit, (col, row) in enumerate(dots):
        if bits & (1 << bit):
            cx = x0 + round(cw * (col * 2 + 1) / 4)
            cy = y0 + round(chh * (row * 2 + 1) / 8)
            draw.ellipse([cx - r, cy - r, cx + r - 1, cy + r - 1], fill=fg)
    return True


def draw_special(draw, ch, x0, y0, cw, chh, fg):
    """A few symbols DejaVu has no glyph for."""
    if ch in "\u23f8":  # pause: two bars
        bar = max(2, cw // 4)
        top, bottom = y0 + chh // 4, y0 + chh - chh // 4
        left = x0 + (cw - 3 * bar) // 2
        draw.rectangle([left, top, left + bar - 1, bottom - 1], fill=fg)
        draw.rectangle([left + 2 * bar, top, left + 3 * bar - 1, bottom - 1], fill=fg)
        return True
    if ch in "\u23f9":  # stop: a square
        side = cw - 2 * max(1, cw // 6)
        left, top = x0 + (cw - side) // 2, y0 + (chh - side) // 2
        draw.rectangle([left, top, left + side - 1, top + side - 1], fill=fg)
        return True
    return False


# ----------------------------------------------------------------- drawing --

def render(rows, cols, nrows, font_size):
    fonts = Fonts(font_size)
    regular = fonts.faces["regular"]
    ascent, descent = regular.getmetrics()
    cw = max(1, round(regular.getlength("M")))
    chh = ascent + descent + max(1, font_size // 7)  # a little line spacing
    baseline = (chh - ascent - descent) // 2 + ascent
    thin = max(1, round(font_size / 14))

    width = cols * cw + 2 * PADDING
    height = nrows * chh + 2 * PADDING
    img = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(img)

    # Backgrounds first, so that glyphs that overhang a little are not cut.
    for y, row in enumerate(rows[:nrows]):
        for x, cell in enumerate(row[:cols]):
            if cell is None:
                continue
            ch, pen = cell
            _, bg = pen.colours()
            if bg != BACKGROUND:
                span = 2 if x + 1 < len(row) and row[x + 1] is None else 1
                x0, y0 = PADDING + x * cw, PADDING + y * chh
                draw.rectangle([x0, y0, x0 + span * cw - 1, y0 + chh - 1], fill=bg)

    for y, row in enumerate(rows[:nrows]):
        for x, cell in enumerate(row[:cols]):
            if cell is None:
                continue
            ch, pen = cell
            fg, bg = pen.colours()
            x0, y0 = PADDING + x * cw, PADDING + y * chh
            if ch != " " and not pen.hidden:
                done = (draw_box(draw, ch, x0, y0, cw, chh, fg, thin)
                        or draw_block(draw, ch, x0, y0, cw, chh, fg, bg)
                        or draw_braille(draw, ch, x0, y0, cw, chh, fg)
                        or draw_special(draw, ch, x0, y0, cw, chh, fg))
                if not done:
                    font = fonts.pick(ch, pen.bold, pen.italic)
                    if font is None:  # no glyph anywhere: an outlined box, like a terminal
                        draw.rectangle([x0 + 1, y0 + chh // 5, x0 + cw - 2, y0 + chh - chh // 5],
                                       outline=fg)
                    else:
                        span = 2 if x + 1 < len(row) and row[x + 1] is None else 1
                        shift = (span * cw - font.getlength(ch)) / 2 if font is not regular else 0
                        draw.text((x0 + shift, y0 + baseline), ch, font=font, fill=fg,
                                  anchor="ls")
            if pen.underline:
                uy = y0 + baseline + max(1, descent // 2)
                draw.rectangle([x0, uy, x0 + cw - 1, uy + thin - 1], fill=fg)
            if pen.strike:
                sy = y0 + baseline - ascent * 3 // 10
                draw.rectangle([x0, sy, x0 + cw - 1, sy + thin - 1], fill=fg)
    return img


def main(argv=None):
    ap = argparse.ArgumentParser(description="Render an ANSI terminal capture to PNG.")
    ap.add_argument("capture", help="text with SGR escapes, e.g. from tmux capture-pane -e -p")
    ap.add_argument("out", help="PNG file to write")
    ap.add_argument("--cols", type=int, help="terminal width in cells (default: widest line)")
    ap.add_argument("--rows", type=int, help="terminal height in cells (default: line count)")
    ap.add_argument("--font-size", type=int, default=15, help="font size in pixels (15)")
    args = ap.parse_args(argv)

    with open(args.capture, encoding="utf-8", errors="replace") as f:
        rows = parse(f.read())
    cols = args.cols or max([len(r) for r in rows] + [1])
    nrows = args.rows or max(len(rows), 1)
    img = render(rows, cols, nrows, args.font_size)
    img.save(args.out, optimize=True)
    if os.path.getsize(args.out) > MAX_BYTES:
        # Anti-aliased text has many shades; a 256-colour palette looks the same.
        img.quantize(colors=256, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"{args.out}: {img.width}x{img.height}, {cols}x{nrows} cells, "
          f"{os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
