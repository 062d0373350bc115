#!/usr/bin/env python3
"""Checks each scenario's [code] table in scenarios/NAME.toml
against its Python program NAME.py and the gate calls in the Rust source:

- every act name the scenario gates (grepped from src/scenario/NAME.rs and
  the worker's lock helpers) is in [code.acts], and no other;
- for acts told apart by their first argument (a table), every literal
  argument grepped from the source is a key;
- every event kind expected without a gate is in [code.events];
- each value occurs exactly once in NAME.py;
- NAME.py runs with exit 0 under `timeout 20 python3` (from the checkout).

Usage: python3 check_code.py [NAME...] [--no-run]
"""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

MAIN = Path(__file__).resolve().parent.parent
NAMES = ['race', 'lifecycle', 'ticket', 'append', 'pool', 'queue', 'manager']
# Event kinds a process emits with no gate before it (see the report).
EVENTS = {
    'race': set(),
    'lifecycle': set(),
    'ticket': {'outcome'},
    'append': set(),
    'pool': {'callback', 'result_get', 'result_wait', 'pool_call', 'pool_joined'},
    'queue': {'full', 'empty'},
    'manager': {'reply'},
}
# Variants each program is run with too.
VARIANTS = {
    'race': [['--lock'], ['--threads'], ['--threads', '--lock']],
    'lifecycle': [['--lock-kind', 'flock']],
    'ticket': [['--no-lock']],
    'append': [['--lock'], ['--chunks', '3']],
    'pool': [['--fail', '2'], ['--sync', '--fail', '2'], ['--crawl', '--fail', '2']],
    'queue': [['--timeout-ms', '5']],
    'manager': [],
}
# Names lifecycle.rs formats into its py(...) codes, for its defaults.
LIFECYCLE_NAMES = {
    '{name} = Process(); {name}.start()': ['terminated', 'killed'],
    '{name}.{how}()': ['terminated.terminate', 'killed.kill'],
    '{name}.join()': ['terminated', 'killed', 'waiter-1', 'waiter-2'],
    '{name}.start()': ['waiter-1', 'waiter-2'],
    '{name}.join(timeout=1)': ['waiter-1', 'waiter-2'],
    '{name}.terminate()': ['waiter-1', 'waiter-2'],
}


def gated(name):
    """The act names (and, per act, the literal first arguments) gated in
    the scenario's source."""
    src = (MAIN / 'src/scenario' / f'{name}.rs').read_text()
    src = src.split('#[cfg(test)]')[0]
    acts, args = set(), {}
    for m in re.finditer(r'\.gate\(\s*(.)', src):
        rest = src[m.start(1):]
        if rest.startswith('"'):
            acts.add(re.match(r'"([^"]+)"', rest).group(1))
        elif rest.startswith('(') or rest.startswith('(\n'):
            mm = re.match(r'\(\s*"([^"]+)",\s*\[\s*\(\s*"[^"]+",\s*(?:"([^"]*)"|[^)]*)\)', rest, re.S)
            acts.add(mm.group(1))
            if mm.group(2) is not None:
                args.setdefault(mm.group(1), set()).add(mm.group(2))
        elif rest.startswith('py('):
            acts.add('py')
            lit = re.match(r'py\("([^"]*)"\)', rest)
            fmt = re.match(r'py\(format!\("([^"]*)"', rest)
            if lit:
                args.setdefault('py', set()).add(lit.group(1))
            elif fmt:
                pattern = fmt.group(1)
                for n in LIFECYCLE_NAMES[pattern]:
                    if pattern == '{name}.{how}()':
                        args['py'].add(n + '()')
                    else:
                        args.setdefault('py', set()).add(pattern.replace('{name}', n))
        elif rest.startswith('action'):
            # work_forever(ctx, "NAME"): the act passed in
            acts.update(re.findall(r'work_forever\(\w+, "([^"]+)"\)', src))
    # The worker's lock helpers gate take_lock and release_lock.
    if re.search(r'ctx\.lock\(|lock_semaphore|lock_then|lock\.take\(', src):
        acts.update({'take_lock', 'release_lock'})
    # The main process's gates on the scenario's parent side.
    for m in re.finditer(r'parent\.gate\(\(\s*"([^"]+)"', src):
        acts.add(m.group(1))
    return acts, args


def matches(key, value):
    """Whether value is key, where a * in key stands for any text."""
    if '*' not in key:
        return key == value
    head, tail = key.split('*', 1)
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def check(name, run):
    errors = []
    toml = tomllib.loads((MAIN / 'scenarios' / f'{name}.toml').read_text())
    code = toml.get('code', {})
    py = MAIN / 'scenarios' / code.get('file', '?')
    if code.get('file') != f'{name}.py' or not py.exists():
        return [f'{name}: [code] file is {code.get("file")!r}']
    text = py.read_text()
    acts, args = gated(name)
    given = code.get('acts', {})
    for act in sorted(acts - given.keys()):
        errors.append(f'{name}: act {act!r} is not in [code.acts]')
    for act in sorted(given.keys() - acts):
        errors.append(f'{name}: [code.acts] has {act!r}, which the scenario never gates')
    for act, want in args.items():
        value = given.get(act)
        if isinstance(value, dict) and len(want) > 1:
            for key in sorted(k for k in want if not any(matches(p, k) for p in value)):
                errors.append(f'{name}: act {act} has no key {key!r}')
    events = code.get('events', {})
    for kind in sorted(EVENTS[name] ^ events.keys()):
        errors.append(f'{name}: [code.events] and the expected kinds differ on {kind!r}')
    pieces = []
    for table in (given, events):
        for key, value in table.items():
            for sub, piece in (value.items() if isinstance(value, dict) else [(None, value)]):
                pieces.append((key if sub is None else f'{key}[{sub!r}]', piece))
    for where, piece in pieces:
        n = text.count(piece)
        if n != 1:
            errors.append(f'{name}: {where} = {piece!r} occurs {n} times in {name}.py')
        elif '\n' in piece:
            errors.append(f'{name}: {where} spans lines')
    if run:
        for extra in [[]] + VARIANTS[name]:
            cmd = ['timeout', '20', 'python3', f'scenarios/{name}.py'] + extra
            done = subprocess.run(cmd, cwd=MAIN, capture_output=True, text=True)
            if done.returncode != 0:
                errors.append(f'{name}: {" ".join(cmd)} exited {done.returncode}: {done.stderr[-300:]}')
    print(f'{name}: {len(acts)} acts, {len(events)} events, {len(pieces)} pieces: '
          + ('OK' if not errors else f'{len(errors)} problems'))
    return errors


def main():
    run = '--no-run' not in sys.argv
    names = [a for a in sys.argv[1:] if not a.startswith('--')] or NAMES
    errors = [e for n in names for e in check(n, run)]
    for e in errors:
        print('  ' + e)
    sys.exit(1 if errors else 0)


if __name__ == '__main__':
    main()
