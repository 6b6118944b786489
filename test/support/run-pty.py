"""Runs a command on a real pseudo-terminal and types into it, step by step.

argv[1] is a JSON object: {"argv": [...], "env": {...}, "cwd": "...", "steps": [[keys, expect], ...]}.
Each step types `keys`, then reads until `expect` has appeared once more than before (an empty
`expect` waits for nothing). Prints everything the terminal showed; exits 1 if a step was not reached.
"""
import json, os, pty, select, subprocess, sys, time

spec = json.loads(sys.argv[1])
master, slave = pty.openpty()
proc = subprocess.Popen(spec["argv"], stdin=slave, stdout=slave, stderr=slave, env=spec["env"], cwd=spec["cwd"], start_new_session=True)
os.close(slave)
seen = b""
ok = True
deadline = time.time() + float(spec.get("timeout", 120))

def read_until(pattern, count):
    global seen
    while seen.count(pattern) < count and time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            seen += chunk
    return seen.count(pattern) >= count

for keys, expect in spec["steps"]:
    want = expect.encode()
    before = seen.count(want)
    os.write(master, keys.encode())
    if not want:
        continue
    if not read_until(want, before + 1):
        ok = False
        break
while read_until(b"\0never", 1):
    pass
try:
    proc.wait(timeout=30)
except subprocess.TimeoutExpired:
    proc.kill()
    ok = False
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(0 if ok else 1)
