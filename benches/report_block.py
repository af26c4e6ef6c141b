"""Writing one generated block into BENCHMARKS.md, shared by the benchmark runners that are not
run.py (recovery.py, memory.py, cli_startup.py).

run.py rewrites the whole file and keeps only what is below its notes marker, so a block that
is not there yet goes below that marker; a block that is there is replaced in place.
"""

import os

NOTES_MARKER = "<!-- hand-written notes below are kept by run.py -->"


def write_block(path, begin, end, text):
    """Puts `text` (which starts with `begin` and ends with `end`) into the file at `path`."""
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if begin in old and end in old:
        before, rest = old.split(begin, 1)
        new = before + text + rest.split(end, 1)[1]
    else:
        base = old.rstrip("\n")
        if NOTES_MARKER not in base:
            base += ("\n\n" if base else "") + NOTES_MARKER
        new = base + "\n\n" + text + "\n"
    with open(path, "w") as f:
        f.write(new)
