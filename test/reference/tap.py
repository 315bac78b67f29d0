"""What the Python checks share: TAP output and running SQL through psql.

Connection: psql with PGHOST / PGPORT / PGUSER / PGDATABASE from the
environment (PSQL names another psql binary).
"""
import os
import subprocess
import tempfile

PSQL = os.environ.get("PSQL", "psql")

_count = 0
_failed = 0


def ok(cond, name, diag=None):
    """One TAP test line; diag is printed as comments when it fails."""
    global _count, _failed
    _count += 1
    if not cond:
        _failed += 1
    print(("ok" if cond else "not ok"), _count, "-", name, flush=True)
    if diag and not cond:
        for line in str(diag).splitlines():
            print("#", line)


def done():
    """Print the plan; the exit status: 1 when a test failed."""
    print("1..%d" % _count)
    return 1 if _failed else 0


def psql_script(sql):
    """Run a script (stops at the first error); stdout, unaligned, tuples only."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(sql)
        path = f.name
    try:
        r = subprocess.run([PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", path],
                           capture_output=True, text=True)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        raise RuntimeError("psql failed:\n" + r.stderr)
    return r.stdout
