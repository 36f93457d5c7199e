"""Writes are atomic: `quarc export` / `quarc quantize` killed (SIGKILL) while writing, or
failing in the middle of a write, leave nothing under OUT's directory — no OUT, no partial
file, no hidden temporary beside it.

A random Llama of ~40 MB (float32) is exported as a Hugging Face directory, Quark's native
format, .onnx and .gguf, and quantized (int4_wo_128) into a Hugging Face directory. Each
output goes to a fresh, empty directory. For each:
  1. a clean run, watched: the time from the first output file the process opens in that
     directory (an unnamed O_TMPFILE, seen through /proc/PID/fd) to its exit is the write
     window; the clean output is the reference;
  2. runs killed at spread points of that window (at the first sight of an output file, then
     later and later): afterwards the directory holds nothing, or (a kill that landed after
     the final rename) the complete output, byte for byte the reference (quantize's
     OUT.report.json, written after it, may be missing then), or, for a directory whose
     commit was killed in its few system calls between creating the hidden sibling
     ".OUT.quarc-tmp.PID" and renaming it, that sibling alone, which the next run to the same
     path must remove (leaving the reference). At least KILLS_IN_WINDOW kills must
     have landed while the process was writing (retried up to a bound, so a busy machine
     does not make the test pass vacuously or fail spuriously);
  3. a run whose writes fail part-way (RLIMIT_FSIZE below the output's size, SIGXFSZ
     ignored: write() fails with EFBIG) exits 1 with a message naming the output, and
     leaves nothing.
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_util as xu  # noqa: E402
import quant_util as qu  # noqa: E402

KILLS = 6             # kill points spread over the write window
KILLS_IN_WINDOW = 4   # of which at least this many must land mid-write
MAX_TRIES = 30        # runs per output before giving up on reaching KILLS_IN_WINDOW


def output_fds(pid, d):
    """Descriptors of process pid open on files in directory d (unnamed or not)."""
    out = []
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith(d + "/"):
            out.append(t)
    return out


def start(args):
    return subprocess.Popen([qu.QUARC] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_write(p, d, timeout=120):
    """Poll until p opens a file in d; the time it did, or None if it exited first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if output_fds(p.pid, d):
            return time.monotonic()
        if p.poll() is not None:
            return None
        time.sleep(0.0002)
    p.kill()
    raise AssertionError("no output after %ds" % timeout)


def tree(path):
    """{relative path: bytes} of a file or a directory tree."""
    if os.path.isfile(path):
        return {"": xu.read(path)}
    out = {}
    for root, _, fs in os.walk(path):
        for f in fs:
            p = os.path.join(root, f)
            out[os.path.relpath(p, path)] = xu.read(p)
    return out


class AtomicWrites(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="quarc-export-atomic-")
        cls.tmp = cls._tmp.name
        cls.model = os.path.join(cls.tmp, "llama")
        qu.make_tiny_llama(cls.model, hidden=384, inter=1024, layers=4, heads=6, kv_heads=3, vocab=4096)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def fresh(self):
        AtomicWrites.n += 1
        d = os.path.join(self.tmp, "out%03d" % self.n)
        os.mkdir(d)
        return d

    def cases(self):
        m = self.model
        return [("export hf", "model", lambda o: ["export", m, "-o", o, "--quiet"]),
                ("export quark", "model", lambda o: ["export", m, "-o", o, "--format", "quark", "--quiet"]),
                ("export onnx", "model.onnx", lambda o: ["export", m, "-o", o, "--quiet"]),
                ("export gguf", "model.gguf", lambda o: ["export", m, "-o", o, "--quiet"]),
                ("quantize hf", "model", lambda o: ["quantize", m, "--scheme", "int4_wo_128", "-o", o])]

    def check_left(self, d, name, ref, what, argv=None, pid=None):
        left = sorted(os.listdir(d))
        sibling = ".%s.quarc-tmp.%d" % (name, pid) if pid else None
        if sibling in left and argv:
            self.assertEqual(left, [sibling], "%s: left behind in %s: %s" % (what, d, left))
            # The one documented leftover (quarc/io.h, qc_atomic_dir_commit): a directory's
            # commit killed between creating its hidden sibling and renaming it, a few
            # system calls. The next write of the same path removes it, once the process
            # is gone: a run that does so leaves exactly the reference.
            p = start(argv(os.path.join(d, name)))
            _, err = p.communicate()
            self.assertEqual(p.returncode, 0, "%s, then run again: %s" % (what, err.decode()))
            self.assertEqual(sorted(os.listdir(d)), sorted(ref), "%s, then run again: not swept" % what)
            self.check_left(d, name, ref, what + ", then run again")
            return False
        if not left:
            return False
        # A kill after the output's final rename leaves it complete (quantize's report, written
        # after the model, may be missing then); anything else is a leftover.
        self.assertTrue(set(left) <= set(ref) and name in left, "%s: left behind in %s: %s" % (what, d, left))
        for f in left:
            if f.endswith(".report.json"):  # names its own output path: whole JSON is enough
                json.loads(xu.read(os.path.join(d, f)))
                continue
            self.assertEqual(tree(os.path.join(d, f)), ref[f], "%s: %s is not whole" % (what, f))
        return True

    def test_killed_mid_write_leaves_nothing(self):
        for what, name, argv in self.cases():
            with self.subTest(what):
                d = self.fresh()
                out = os.path.join(d, name)
                p = start(argv(out))
                t0 = wait_for_write(p, d)
                _, err = p.communicate()
                t1 = time.monotonic()
                self.assertEqual(p.returncode, 0, err.decode())
                self.assertIsNotNone(t0, "%s: no output file seen" % what)
                ref = {f: tree(os.path.join(d, f)) for f in os.listdir(d)}
                window = t1 - t0
                in_window = tries = 0
                while (tries < KILLS or in_window < KILLS_IN_WINDOW) and tries < MAX_TRIES:
                    delay = window * 0.9 * (tries % KILLS) / KILLS
                    tries += 1
                    d = self.fresh()
                    p = start(argv(os.path.join(d, name)))
                    seen = wait_for_write(p, d)
                    if seen is None:  # finished before we saw it write
                        p.communicate()
                        continue
                    time.sleep(delay)
                    writing = bool(output_fds(p.pid, d))
                    p.send_signal(signal.SIGKILL)
                    p.communicate()
                    complete = self.check_left(d, name, ref, "%s killed %.0f ms into the write" % (what, 1e3 * delay),
                                               argv, p.pid)
                    if p.returncode == -signal.SIGKILL and writing and not complete:
                        in_window += 1
                print("%-13s write window %6.1f ms: %d of %d kills landed mid-write, nothing left behind"
                      % (what, 1e3 * window, in_window, tries))
                self.assertGreaterEqual(in_window, KILLS_IN_WINDOW, "%s: could not kill it mid-write" % what)

    def test_killed_commit_leftover_is_swept(self):
        """What a directory commit killed between its mkdir and its rename leaves (the hidden
        sibling of a process now gone, holding some of the files) is removed by the next write
        of the same path, which then leaves exactly the clean output."""
        for what, name, argv in self.cases():
            if name != "model":  # the directory outputs
                continue
            with self.subTest(what):
                d = self.fresh()
                p = start(argv(os.path.join(d, name)))
                _, err = p.communicate()
                self.assertEqual(p.returncode, 0, err.decode())
                ref = {f: tree(os.path.join(d, f)) for f in os.listdir(d)}
                gone = subprocess.Popen(["true"])
                gone.wait()
                d = self.fresh()
                sib = os.path.join(d, ".%s.quarc-tmp.%d" % (name, gone.pid))
                os.mkdir(sib)
                with open(os.path.join(sib, "config.json"), "w") as f:
                    f.write("{")
                self.check_left(d, name, ref, what + " after a killed commit", argv, gone.pid)

    def test_failed_write_leaves_nothing(self):
        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20))

        for what, name, argv in self.cases():
            with self.subTest(what):
                d = self.fresh()
                out = os.path.join(d, name)
                p = subprocess.run([qu.QUARC] + argv(out), capture_output=True, text=True, preexec_fn=limit)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(out, p.stderr)
                self.assertIn("File too large", p.stderr)
                self.assertEqual(os.listdir(d), [], "%s: a failed write left files" % what)
                print("%-13s failing write: %s" % (what, p.stderr.strip().splitlines()[-1][:150]))

    def test_existing_output_is_kept(self):
        """Without --force an existing OUT is refused, untouched; with it, replaced whole."""
        d = self.fresh()
        out = os.path.join(d, "model")
        os.mkdir(out)
        with open(os.path.join(out, "keep.txt"), "w") as f:
            f.write("mine")
        p = qu.quarc("export", self.model, "-o", out, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("exists", p.stderr)
        self.assertEqual(os.listdir(out), ["keep.txt"])
        qu.quarc("export", self.model, "-o", out, "--force", "--quiet")
        self.assertEqual(sorted(os.listdir(out)), ["config.json", "model.safetensors"])
        self.assertEqual(os.listdir(d), ["model"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
