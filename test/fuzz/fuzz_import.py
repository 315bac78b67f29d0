#!/usr/bin/env python3
"""Mutated model documents into ae_import, on a running server.

The importer reads jsonb through PostgreSQL's own API, so it is fuzzed at
the SQL level: a few valid documents are exported from models trained in a
scratch database, then COUNT mutants of them (structure-aware: values of
every JSON type and of extreme size in any place, members and elements
removed, duplicated, swapped or moved, arrays resized, plus some raw text
damage) are sent to ae_import, each in a transaction that is rolled back.
A document that is accepted is also loaded, described, scored, encoded and
exported again, so a model that passes validation but breaks the scorer is
caught too.  A quarter of the cases are binary models instead: a stored
model's bytes (the ae_model type, as ae_save and the catalog keep them)
mutated byte-wise or with its configuration text or column names replaced,
the checksum usually fixed up, then cast to ae_model, described, saved,
listed in ae_models, scored, exported and re-imported.

The run fails when the server crashes (the connection is lost, or the
liveness query after a batch fails); when any statement fails with an
SQLSTATE of class XX (internal error), 53 (insufficient resources) or 58
(system error), since a hostile document must be refused with a data error
(damaged model bytes with XX001, data_corrupted, as documented); or when a
model that was accepted cannot then be described, listed, shown with its
history, exported and imported again.

Connection: the PG* environment.  The seed (printed) makes a run
reproducible; a failing batch is saved as a self-contained SQL script.

Usage: fuzz_import.py [--count N] [--seed S] [--batch B] [--out DIR]
"""
import argparse
import collections
import copy
import json
import os
import random
import re
import subprocess
import sys
import time

DB = "autoenc_fuzz"
TAG = "$fz$"
BAD_CLASSES = ("XX", "53", "58")


def psql(sql, db=DB, check=True):
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", db, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        sys.exit("fuzz_import: %s\n%s" % (sql[:200], r.stderr))
    return r.stdout.strip()


SEED_SQL = r"""
CREATE TABLE fz_data AS
SELECT i AS id, (i % 7)::real AS a, (i % 5)::real AS b, ((i * i) % 11)::real AS c,
       (i % 3)::double precision AS d
FROM generate_series(1, 80) AS i;
SELECT ae_save('fz_plain', ae_fit(ARRAY[a, b, c, d, (id % 2)]::real[],
    '{"hidden": [4, 2, 4], "epochs": 3, "seed": 1}')) FROM fz_data;
SELECT ae_save('fz_tied', ae_fit(ARRAY[a, b, c, d]::real[],
    '{"hidden": [3], "tied_weights": true, "activation": "tanh",
      "normalize": "minmax", "epochs": 2, "seed": 2}')) FROM fz_data;
SELECT ae_save('fz_deep', ae_fit(ARRAY[a, b, c]::real[],
    '{"hidden": [3, 2, 1, 2, 3], "activation": "elu", "output_activation": "sigmoid",
      "normalize": "none", "epochs": 2, "seed": 3}')) FROM fz_data;
SELECT version FROM ae_train('fz_named', 'fz_data', input => NULL,
    columns => ARRAY['a', 'b', 'c', 'd'], hidden => '{2}', epochs => 2, seed => 4);
"""


class Raw:
    """A JSON token written as is (numbers JSON allows but Python cannot hold)."""

    def __init__(self, text):
        self.text = text


def dump(v):
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(k) + ": " + dump(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(dump(x) for x in v) + "]"
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return "null"
    return json.dumps(v)


EXTREMES = [
    None, True, False, 0, 1, -1, 2, 3, 16, 65536, 65537, 2**31 - 1, 2**31, -2**31,
    2**63, -2**63 - 1, 10**30, 0.5, -0.0, 1e-45, 1e-320, 3.4028235e38, 3.5e38, 1e308,
    -1e308, Raw("1e400"), Raw("-1e400"), Raw("1e-400"), Raw("123456789012345678901234567890.5"),
    Raw("0.1e-99999"), "", "x", "NaN", "Infinity", "-Infinity", "null", "1",
    "linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "zscore", "minmax", "none",
    "autoenc", "a", "a\u0000b", "\u00e9t\u00e9", "x" * 5000, [], {}, [[]], [None], [0.0],
    [1, 2, 3], {"a": 1}, ["a", "b"],
]


def paths(v, here=()):
    """Every location in the document (the root excluded)."""
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            out.append(here + (k,))
            out.extend(paths(x, here + (k,)))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out.append(here + (i,))
            out.extend(paths(x, here + (i,)))
    return out


def get(v, path):
    for p in path:
        v = v[p]
    return v


def numbers(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v
    return None


def mutate_once(doc, rnd, donors):
    locs = paths(doc)
    if not locs:
        return doc
    # favour the small, structural places over the many weight values
    if rnd.random() < 0.5:
        short = [p for p in locs if not (len(p) >= 3 and p[0] == "layers" and isinstance(p[-1], int))
                 and not (len(p) == 2 and p[0] in ("quantiles", "feature_mean"))]
        locs = short or locs
    path = rnd.choice(locs)
    parent = get(doc, path[:-1])
    key = path[-1]
    cur = parent[key]
    op = rnd.randrange(12)
    if op == 0:
        parent[key] = copy.deepcopy(rnd.choice(EXTREMES))
    elif op == 1:                               # remove
        if isinstance(parent, dict):
            del parent[key]
        else:
            del parent[key]
    elif op == 2 and isinstance(parent, list):  # duplicate an element
        parent.insert(key, copy.deepcopy(cur))
    elif op == 3 and isinstance(cur, list):     # resize an array
        n = rnd.choice([0, 1, len(cur) - 1, len(cur) + 1, 2 * len(cur), 200])
        n = max(0, n)
        fill = cur[-1] if cur else 0.5
        parent[key] = (cur + [copy.deepcopy(fill)] * n)[:n]
    elif op == 4 and isinstance(numbers(cur), (int, float)) and not isinstance(cur, bool):
        parent[key] = rnd.choice([cur + 1, cur - 1, -cur, cur * 2, cur * 1e30, 0,
                                  Raw(repr(float(cur)) + "e5")])
    elif op == 5:                               # wrap in an array or object
        parent[key] = rnd.choice([[cur], {"value": cur}])
    elif op == 6 and isinstance(parent, list) and len(parent) > 1:
        j = rnd.randrange(len(parent))
        parent[key], parent[j] = parent[j], parent[key]
    elif op == 7:                               # a subtree from elsewhere (any seed)
        donor = rnd.choice(donors)
        dl = paths(donor)
        if dl:
            parent[key] = copy.deepcopy(get(donor, rnd.choice(dl)))
    elif op == 8 and isinstance(parent, dict):  # an unknown or duplicated member
        parent[rnd.choice(["extra", key.upper(), key + " ", "weights", "biases"])] = copy.deepcopy(cur)
    elif op == 9 and isinstance(cur, str):
        parent[key] = rnd.choice([cur.upper(), cur + "x", cur[:-1], cur * 3, " " + cur])
    elif op == 10 and isinstance(doc.get("layers"), list) and doc["layers"]:
        # shape surgery: drop or add a layer, or change n_inputs alone
        layers = doc["layers"]
        r = rnd.random()
        if r < 0.4:
            del layers[rnd.randrange(len(layers))]
        elif r < 0.8:
            i = rnd.randrange(len(layers))
            layers.insert(i, copy.deepcopy(layers[i]))
        else:
            doc["n_inputs"] = rnd.choice([1, 2, 3, 4, 5, 6, 65536, 65537])
    else:
        parent[key] = copy.deepcopy(rnd.choice(EXTREMES))
    return doc


def text_damage(text, rnd):
    n = len(text)
    i = rnd.randrange(n)
    j = min(n, i + rnd.randrange(1, 40))
    op = rnd.randrange(4)
    if op == 0:
        return text[:i]
    if op == 1:
        return text[:i] + text[j:]
    if op == 2:
        return text[:i] + text[i:j] * 2 + text[i:]
    return text[:i] + "".join(rnd.choice('{}[],:"0123456789.eE-+ nulltrue') for _ in range(j - i)) + text[j:]


def make_case(seeds, rnd):
    base = rnd.choice(seeds)
    doc = copy.deepcopy(base)
    for _ in range(rnd.choice([1, 1, 1, 2, 2, 3, 5])):
        if not isinstance(doc, dict):
            break
        doc = mutate_once(doc, rnd, seeds)
    text = dump(doc)
    if rnd.random() < 0.07:
        text = text_damage(text, rnd)
    if TAG in text or "\x00" in text:
        text = dump(base)
    n = doc.get("n_inputs") if isinstance(doc, dict) else None
    width = n if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 65536 else 1
    return text, width


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def fix_header(buf):
    """Payload length and CRC-32C of a bundle recomputed (format: ae_bundle.h)."""
    if len(buf) < 16:
        return buf
    payload = bytes(buf[16:])
    return bytes(buf[:8]) + len(payload).to_bytes(4, "little") + crc32c(payload).to_bytes(4, "little") + payload


CONFIGS = [b"", b"1", b"[]", b"null", b'"text"', b"{}", b"not json", b'{"a": 1', b"{}}",
           b'{"noise": 5, "contractive": "x", "hidden": "none"}', b'{"l1_activity": 1e400}',
           b'{"epochs": 3}, "threshold": 99, "x": {', b"\xff\xfe", b"{" * 2000 + b"}" * 2000,
           b'{"k": "' + b"\\" * 300 + b'"}']
NAMES = [b"a", b'"', b"\\", b"x" * 70, b"x" * 5000, b"\xc3\x28", b"a b", b"; DROP TABLE t; --",
         b"\x01", b"\xe2\x82\xac"]


def mutate_bundle(blob, n_inputs, rnd):
    buf = bytearray(blob)
    op = rnd.randrange(6)
    if op <= 1:                                     # byte flips
        for _ in range(rnd.choice([1, 1, 2, 4, 8])):
            i = rnd.randrange(16, len(buf))
            buf[i] = rnd.randrange(256)
    elif op == 2:                                   # a u32 at a random place
        i = rnd.randrange(16, len(buf) - 4)
        v = rnd.choice([0, 1, 2, 15, 16, 65536, 65537, 2**31 - 1, 2**31, 2**32 - 1])
        buf[i:i + 4] = v.to_bytes(4, "little")
    elif op == 3:                                   # cut or extend
        if rnd.random() < 0.5:
            del buf[rnd.randrange(16, len(buf)):]
        else:
            buf += bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 16)))
    elif op == 4:
        # the column names (the last section) replaced: n_inputs names made
        # from one (numbered, or all the same), or that name alone (a count
        # mismatch)
        name = rnd.choice(NAMES)
        r = rnd.random()
        if r < 0.7:
            names = b"".join(name + b"%d\0" % i for i in range(n_inputs))
        elif r < 0.85:
            names = (name + b"\0") * n_inputs
        else:
            names = name + b"\0"
        at = find_config(buf)
        if at is not None:
            end = at[0] + 4 + at[1]
            buf = buf[:end] + n_inputs.to_bytes(4, "little") + len(names).to_bytes(4, "little") + names
    else:
        # the configuration text replaced
        cfg = rnd.choice(CONFIGS)
        at = find_config(buf)
        if at is not None:
            start, old_len = at
            buf = buf[:start] + len(cfg).to_bytes(4, "little") + cfg + buf[start + 4 + old_len:]
    out = bytes(buf)
    return fix_header(out) if rnd.random() < 0.85 else out


def find_config(buf):
    """(offset, length) of the configuration section of a bundle as ae_save
    wrote it: u32 length, then JSON object text, then the columns."""
    i = bytes(buf).rfind(b'{"')
    while i >= 4:
        n = int.from_bytes(buf[i - 4:i], "little")
        if i + n <= len(buf) and buf[i + n - 1:i + n] == b"}":
            return i - 4, n
        i = bytes(buf).rfind(b'{"', 0, i)
    return None


# Runs one document in subtransactions and says what happened, in one line:
# "refused CODE", or "accepted" followed by "step:CODE" for each later step
# that failed.  The caller rolls the whole case back.
TRY_SQL = r"""
CREATE OR REPLACE FUNCTION fz_try(doc text, width integer) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    r text := 'accepted';
    x real[] := array_fill(0.5::real, ARRAY[width]);
BEGIN
    BEGIN
        PERFORM ae_import(doc::jsonb, 'fz_case');
    EXCEPTION WHEN OTHERS THEN
        RETURN 'refused ' || SQLSTATE;
    END;
    BEGIN
        PERFORM ae_model_info(ae_load('fz_case'));
    EXCEPTION WHEN OTHERS THEN r := r || ' info:' || SQLSTATE;
    END;
    BEGIN
        PERFORM ae_error('fz_case', x), ae_error('fz_case', x, 'max');
    EXCEPTION WHEN OTHERS THEN r := r || ' score:' || SQLSTATE;
    END;
    BEGIN
        PERFORM ae_decode('fz_case', ae_encode('fz_case', x)), ae_reconstruct('fz_case', x);
    EXCEPTION WHEN OTHERS THEN r := r || ' encode:' || SQLSTATE;
    END;
    BEGIN
        PERFORM count(*) FROM ae_models WHERE variant IS NOT NULL;
    EXCEPTION WHEN OTHERS THEN r := r || ' list:' || SQLSTATE;
    END;
    BEGIN
        PERFORM count(*) FROM ae_history('fz_case');
    EXCEPTION WHEN OTHERS THEN r := r || ' history:' || SQLSTATE;
    END;
    BEGIN
        PERFORM ae_import(ae_export('fz_case'), 'fz_case_again');
    EXCEPTION WHEN OTHERS THEN r := r || ' reimport:' || SQLSTATE;
    END;
    RETURN r;
END
$f$;

CREATE OR REPLACE FUNCTION fz_try_bundle(b bytea, width integer) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    r text := 'accepted';
    x real[] := array_fill(0.5::real, ARRAY[width]);
BEGIN
    BEGIN
        PERFORM ae_model_info(b::ae_model);
    EXCEPTION WHEN OTHERS THEN
        RETURN 'refused ' || SQLSTATE;
    END;
    BEGIN
        PERFORM ae_save('fz_case', b::ae_model);
    EXCEPTION WHEN OTHERS THEN
        RETURN r || ' save:' || SQLSTATE;
    END;
    BEGIN
        PERFORM count(*) FROM ae_models WHERE variant IS NOT NULL;
    EXCEPTION WHEN OTHERS THEN r := r || ' list:' || SQLSTATE;
    END;
    BEGIN
        PERFORM ae_error('fz_case', x), ae_anomaly_score('fz_case', x);
    EXCEPTION WHEN OTHERS THEN r := r || ' score:' || SQLSTATE;
    END;
    BEGIN
        PERFORM count(*) FROM ae_history('fz_case');
    EXCEPTION WHEN OTHERS THEN r := r || ' history:' || SQLSTATE;
    END;
    BEGIN
        PERFORM ae_import(ae_export('fz_case'), 'fz_case_again');
    EXCEPTION WHEN OTHERS THEN r := r || ' reimport:' || SQLSTATE;
    END;
    RETURN r;
END
$f$;
"""


def case_sql(k, text, width):
    if isinstance(text, bytes):
        call = f"fz_try_bundle('\\x{text.hex()}'::bytea, {width})"
    else:
        call = f"fz_try({TAG}{text}{TAG}, {width})"
    return f"BEGIN;\nSELECT 'case {k}: ' || {call};\nROLLBACK;\n"


# Steps whose failure on an accepted document is a bug whatever the error:
# a stored model must describe, list, show its history, export and
# re-import.  Scoring may refuse with a data exception (class 22), e.g. a
# reconstruction that overflows; so may ae_save a binary model whose
# configuration text is not a JSON object.
STRICT_STEPS = ("info", "reimport", "list", "history")


CASE = re.compile(r"^case (\d+): (.*)$")
LOST = re.compile(r"server closed the connection|connection to server was lost|"
                  r"terminating connection because of crash|could not connect")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--out", default="build/fuzz/import")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(os.environ.get("FUZZ_SEED", time.time_ns() % 2**31))
    rnd = random.Random(seed)
    os.makedirs(a.out, exist_ok=True)
    print(f"fuzz_import: seed {seed}, {a.count} documents", flush=True)

    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    psql("CREATE EXTENSION autoenc")
    psql(SEED_SQL)
    psql(TRY_SQL)
    seeds = []
    for name in ("fz_plain", "fz_tied", "fz_deep", "fz_named"):
        doc = json.loads(psql(f"SELECT ae_export('{name}')"))
        seeds.append(doc)
        # the same document with every optional member left out
        slim = {k: v for k, v in doc.items()
                if k in ("format", "format_version", "n_inputs", "layers", "normalization",
                         "feature_mean", "tied")}
        seeds.append(slim)
    bundles = []
    for name in ("fz_plain", "fz_tied", "fz_deep", "fz_named"):
        blob = bytes.fromhex(psql(f"SELECT encode(ae_load('{name}')::bytea, 'hex')"))
        n = int(psql(f"SELECT n_inputs FROM ae_models WHERE name = '{name}'"))
        bundles.append((blob, n))
    # each seed must import as it is
    for i, doc in enumerate(seeds):
        psql(f"BEGIN; SELECT ae_import({TAG}{dump(doc)}{TAG}, 'fz_seed'); ROLLBACK")

    started = time.time()
    sqlstates = collections.Counter()
    steps = collections.Counter()
    accepted = 0
    done = 0
    bad = []
    crashed = False
    while done < a.count:
        n = min(a.batch, a.count - done)
        cases = []
        for _ in range(n):
            if rnd.random() < 0.25:
                blob, width = rnd.choice(bundles)
                cases.append((mutate_bundle(blob, width, rnd), width))
            else:
                cases.append(make_case(seeds, rnd))
        script = "".join(
            case_sql(done + i, t, w) for i, (t, w) in enumerate(cases))
        r = subprocess.run(["psql", "-X", "-A", "-t", "-d", DB],
                           input=script, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace")
        last_case = None
        seen = 0
        batch_bad = []
        for line in r.stdout.splitlines():
            m = CASE.match(line)
            if not m:
                continue
            seen += 1
            last_case = int(m.group(1))
            words = m.group(2).split()
            binary = isinstance(cases[last_case - done][0], bytes)
            if words[0] == "refused":
                code = words[1]
                sqlstates[code] += 1
                # damaged model bytes are refused as data_corrupted, by design
                if code.startswith(BAD_CLASSES) and not (binary and code == "XX001"):
                    batch_bad.append((last_case, code, line))
                continue
            accepted += 1
            for step_code in words[1:]:
                step, code = step_code.split(":")
                steps[step_code] += 1
                if (code.startswith(BAD_CLASSES) or step in STRICT_STEPS
                        or not code.startswith("22")):
                    batch_bad.append((last_case, code, line))
        alive = subprocess.run(["psql", "-X", "-At", "-d", DB, "-c", "SELECT 1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lost = r.returncode == 2 or LOST.search(r.stdout) or alive.returncode != 0
        if not lost and seen != n:
            batch_bad.append((None, "-", f"{n - seen} of {n} cases gave no result:\n" +
                              "\n".join(r.stdout.splitlines()[-10:])))
        bad.extend(batch_bad)
        if lost or batch_bad:
            path = os.path.join(a.out, f"failure-seed{seed}-batch{done}.sql")
            with open(path, "w") as f:
                # self-contained: psql -f it in any database
                f.write("CREATE EXTENSION IF NOT EXISTS autoenc;\n" + TRY_SQL + script)
            if lost:
                print(f"fuzz_import: the server went away during case {last_case} "
                      f"(psql exit {r.returncode}); the batch is in {path}")
                tail = [l for l in r.stdout.splitlines() if l.strip()][-5:]
                print("\n".join(tail))
            for case, code, line in batch_bad[:20]:
                print(f"fuzz_import: case {case}: SQLSTATE {code}: {line}")
            if lost:
                crashed = True
                done += n
                break
        done += n
    elapsed = time.time() - started
    summary = ", ".join(f"{k} {v}" for k, v in sorted(sqlstates.items()))
    after = ", ".join(f"{k} {v}" for k, v in sorted(steps.items())) or "none"
    print(f"fuzz_import: {done} documents in {elapsed:.0f} s ({done / max(elapsed, 1e-9):.0f}/s), "
          f"{accepted} accepted; refused by SQLSTATE: {summary}; "
          f"failed steps after an import: {after}")
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres", check=False)
    failed = bool(bad) or crashed
    print(f"fuzz_import: {'FAILED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
