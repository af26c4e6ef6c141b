"""What the benchmark runners share: writing a report to its own file under benches/results/,
and saying what was measured.

Each runner owns one file there and rewrites it whole on every full run (smoke runs write
nothing). BENCHMARKS.md, written by hand, is the reference: it quotes the headline figures
of those files, says what bounds each, and keeps the history of decisions.
"""

import os
import platform
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
# What the runners and their readers write: a run's own report does not make the tree the
# next run measures "dirty".
REPORTS = ("benches/results", "BENCHMARKS.md")
# The library as measured, as run.py has always counted it.
CLIENT = ("src", "Cargo.toml", "Cargo.lock")


def default_path(name):
    """Where a runner's report goes unless told otherwise: benches/results/NAME."""
    return os.path.join(RESULTS, name)


def write_report(path, text):
    """Writes `text` as the whole of the file at `path`, making its directory if need be."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def _git(*args):
    try:
        done = subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def work_tree():
    """The commit checked out, `-dirty` when anything but the reports differs from it."""
    head = _git("describe", "--always") or "?"
    excluded = [":(exclude){}".format(path) for path in REPORTS]
    return head + ("-dirty" if _git("status", "--porcelain", "--", ".", *excluded) else "")


def client_source(paths=CLIENT):
    """The last commit that changed `paths`, and whether they have uncommitted changes."""
    last = _git("log", "-1", "--format=%h %s", "--", *paths) or "?"
    return last + (" (+ uncommitted changes)" if _git("status", "--porcelain", "--", *paths) else "")


def source_label(paths=CLIENT):
    """`src/`, `Cargo.*` and the like, for a report's header."""
    names = ["`{}/`".format(p) for p in paths if not p.startswith("Cargo.")]
    if any(p.startswith("Cargo.") for p in paths):
        names.append("`Cargo.*`")
    return ", ".join(names)


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo ("?" elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def provenance(paths=CLIENT):
    """One line for a report: the client source measured, the work tree, the machine."""
    cpu = cpu_model()
    return "Client source (last commit of {}): {}; work tree {}; {} CPUs ({}), kernel {}.".format(
        source_label(paths), client_source(paths), work_tree(), os.cpu_count(), cpu, platform.release())


def build_release(log, *targets):
    """Builds each target (cargo's `--example NAME` or `-p PACKAGE` arguments) in release
    mode, saying so through `log`; returns target/release."""
    for target in targets:
        cmd = ["cargo", "build", "--release", "--quiet", "--locked", *target]
        log("building:", " ".join(cmd))
        subprocess.run(cmd, cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release")
