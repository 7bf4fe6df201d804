"""Real peers for the containerd end-to-end tests and the pull benchmark:
Debian's docker-registry (Docker Distribution) and containerd with its CRI
plugin (Debian 12's 1.6, or 2.x from Debian sid, fetched once into
PEERS_CACHE), both on 127.0.0.1 or on unix sockets under one scratch
directory, configured to run layercrypt-decoder as their stream processor;
and skopeo 1.22 (Go ocicrypt 1.1.10), gnupg and softhsm2 of Debian sid in a
sid root file system made once under PEERS_CACHE (sid_root(), SidSkopeo).

Cleanup on every exit path:
  - the program re-executes itself in a private mount namespace
    (`unshare --mount`), so every mount made by it or by containerd
    disappears with the last process even after SIGKILL;
  - containerd and the registry are started through `setpriv --pdeathsig`,
    so they get SIGTERM when the program dies;
  - Scratch.close() (run from `finally`; SIGTERM/SIGINT/SIGHUP raise
    KeyboardInterrupt so it runs) stops them by PID, unmounts whatever is
    still mounted under the scratch directory and removes it;
  - scratch directories left by a killed run (their owner PID is gone) are
    removed by the next run;
  - what must change outside the scratch directory (containerd 2 makes
    /run/containerd whatever its config says; a bind mount over
    /etc/containerd/ocicrypt/keys) changes only inside the private mount
    namespace, under an overlay whose upper layer is in the scratch
    directory (Scratch.shield).
"""

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

LAYER = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = LAYER + "+gzip"
LAYER_ENC = LAYER + "+encrypted"
LAYER_GZIP_ENC = LAYER_GZIP + "+encrypted"
LAYER_ZSTD = LAYER + "+zstd"
LAYER_ZSTD_ENC = LAYER_ZSTD + "+encrypted"
# containerd hands the fd-3 payload only to processors with these ids (and
# only on a client-side unpack that asks for decryption: CRI's local pull).
PROCESSOR_TAR_GZIP = "io.containerd.ocicrypt.decoder.v1.tar.gzip"
PROCESSOR_TAR = "io.containerd.ocicrypt.decoder.v1.tar"
# Ours for zstd layers: no payload ever (imgcrypt knows only the two above).
PROCESSOR_TAR_ZSTD = "io.containerd.ocicrypt.decoder.v1.tar.zstd"

# Debian package of each program (or Python module) the peers need.
REQUIRED = {"containerd": "containerd", "ctr": "containerd",
            "docker-registry": "docker-registry", "skopeo": "skopeo", "umoci": "umoci",
            "unshare": "util-linux", "setpriv": "util-linux", "mount": "mount", "zstd": "zstd"}
SCRATCH_PREFIX = "layercrypt-e2e-"


class CannotRun(Exception):
    """This machine cannot run containerd at all (not a test failure)."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_checked(argv, timeout=120):
    """argv's stdout; AssertionError with its stderr when it fails."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def missing_packages():
    pkgs = sorted({p for prog, p in REQUIRED.items() if shutil.which(prog) is None})
    if importlib.util.find_spec("grpc") is None:
        pkgs.append("python3-grpcio")
    return pkgs


def check_machine():
    """Raises CannotRun when this machine truly cannot run containerd with
    the overlayfs snapshotter; installs missing Debian packages when root."""
    if os.geteuid() != 0:
        raise CannotRun("needs root: containerd mounts overlayfs snapshots")
    with open("/proc/filesystems") as f:
        has_overlay = any(l.split()[-1] == "overlay" for l in f if l.strip())
    if not has_overlay:
        subprocess.run(["modprobe", "overlay"], capture_output=True)
        with open("/proc/filesystems") as f:
            has_overlay = any(l.split()[-1] == "overlay" for l in f if l.strip())
    if not has_overlay:
        raise CannotRun("the kernel has no overlay filesystem (modprobe overlay failed)")
    pkgs = missing_packages()
    if pkgs:
        log(f"installing {' '.join(pkgs)} (apt-get)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for args in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *pkgs]):
            r = subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", *args[1:]],
                               env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"apt-get failed to install {' '.join(pkgs)}: "
                                   f"{r.stderr.strip()[-500:]} (./tools/run.sh test installs them)")
        importlib.invalidate_caches()  # python3-grpcio may be new
        still = missing_packages()
        if still:
            raise RuntimeError(f"still missing after apt-get: {' '.join(still)}")


def enter_private_mount_namespace():
    """Re-executes this program in a private mount namespace (once): mounts
    made by it and by its children vanish when the last of them exits."""
    if os.environ.get("LAYERCRYPT_E2E_MOUNT_NS") == "1" or os.geteuid() != 0:
        return
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--mount", "--propagation", "private",
                                          "true"], capture_output=True).returncode != 0:
        log("note: cannot unshare the mount namespace; relying on explicit unmounts")
        return
    os.environ["LAYERCRYPT_E2E_MOUNT_NS"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(unshare, [unshare, "--mount", "--propagation", "private", "--",
                       sys.executable, *sys.argv])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mounts_under(path):
    """Mount points at or below path, deepest first."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == path or mp.startswith(path + "/"):
                found.append(mp)
    return sorted(found, key=len, reverse=True)


def unmount_all(path):
    for mp in mounts_under(path):
        if subprocess.run(["umount", mp], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", mp], capture_output=True)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_scratch():
    """Removes scratch directories (named after their owner's PID) whose
    owner process is gone."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        d = os.path.join(base, name)
        owner = name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if not name.startswith(SCRATCH_PREFIX) or not owner.isdigit() or not os.path.isdir(d):
            continue
        if not pid_alive(int(owner)):
            log(f"removing {d} left by a killed run (pid {owner})")
            unmount_all(d)
            shutil.rmtree(d, ignore_errors=True)


def new_scratch(tag):
    """A fresh scratch directory owned by this process (SCRATCH_PREFIX, PID,
    tag), after removing the ones of runs that were killed."""
    remove_stale_scratch()
    return tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-{tag}-")


def enter_sid_test_namespace(program):
    """What a test that runs sid's peers in their chroot does first: exits
    77 (skipped) unless root, then re-executes itself in a private mount
    namespace, so that the chroot's mounts vanish with it."""
    if os.geteuid() != 0:
        print(f"{program}: needs root (sid's peers run in a chroot with mounts): skipped")
        sys.exit(77)
    enter_private_mount_namespace()
    if os.environ.get("LAYERCRYPT_E2E_MOUNT_NS") != "1":
        raise SystemExit(f"{program}: cannot make a private mount namespace")


def wait_port(port, process, timeout=30):
    """Waits until `process` (a Process) accepts connections on
    127.0.0.1:port; stops it and raises RuntimeError with its log tail when
    it exits or does not listen within timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    process.stop()
    raise RuntimeError(f"{process.name} did not listen on 127.0.0.1:{port}:\n"
                       + process.log_tail())


class Process:
    """A daemon started by us, stopped by its PID."""

    def __init__(self, name, argv, log_path, env=None):
        self.name, self.log_path = name, log_path
        setpriv = shutil.which("setpriv")
        if setpriv:  # SIGTERM if we die, even by SIGKILL
            argv = [setpriv, "--pdeathsig", "SIGTERM", "--", *argv]
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) ignored SIGTERM for {timeout} s: SIGKILL")
                self.proc.kill()
                self.proc.wait(30)
        self.log_file.close()

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read().decode(errors="replace").splitlines()
        except OSError as e:
            return f"(no log: {e})"
        return "\n".join(data[-lines:])


class Scratch:
    """One temp directory for everything; close() undoes it all."""

    def __init__(self):
        remove_stale_scratch()
        self.path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        self.processes = []
        self.outside_mounts, self.shielded = [], set()
        self.closed = False
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame):
        signal.signal(signum, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signum}")

    def sub(self, *parts):
        p = os.path.join(self.path, *parts)
        os.makedirs(p, exist_ok=True)
        return p

    def shield(self, path):
        """Mounts an overlay on the directory `path` (outside the scratch
        directory) whose upper layer is in the scratch directory, in this
        program's private mount namespace only: what we and our children
        write below `path` lands in the scratch directory and vanishes
        with it, and nothing outside changes. Once per path; until close()."""
        path = os.path.realpath(path)
        if path in self.shielded:
            return
        if os.environ.get("LAYERCRYPT_E2E_MOUNT_NS") != "1":
            raise RuntimeError(f"will not mount over {path}: no private mount namespace "
                               "(unshare --mount failed), the mount would be the host's")
        if path == "/" or path == self.path or path.startswith(self.path + "/"):
            raise RuntimeError(f"will not shield {path}")
        d = self.sub("shield", path.strip("/").replace("/", "_"))
        upper, work, orig = (os.path.join(d, n) for n in ("upper", "work", "orig"))
        # The overlay would hide the mounts below path (/run/lock,
        # /run/user/0, ...): reach them through a recursive bind of path
        # first, and bind them back on the overlay.
        below = sorted({mp for mp in mounts_under(path) if mp != path}, key=len)
        tops = [mp for mp in below if not any(mp.startswith(o + "/") for o in below)]
        if tops:
            os.makedirs(orig, exist_ok=True)
            run_checked(["mount", "--rbind", path, orig])
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            f"lowerdir={path},upperdir={upper},workdir={work}", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"cannot mount an overlay on {path}: {r.stderr.strip()}")
        self.outside_mounts.append(path)
        self.shielded.add(path)
        for mp in tops:
            run_checked(["mount", "--rbind", os.path.join(orig, os.path.relpath(mp, path)), mp])
            self.outside_mounts.append(mp)

    def bind_over(self, source, target):
        """Bind-mounts source on target (outside the scratch directory) in
        this program's private mount namespace only, until close(). Missing
        directories of target are made under a shield() of its deepest
        existing ancestor, so that they exist only for us."""
        target = os.path.abspath(target)
        ancestor = target
        while not os.path.lexists(ancestor):
            ancestor = os.path.dirname(ancestor)
        if ancestor != target:
            if ancestor == "/":
                raise RuntimeError(f"will not shield / to make {target}")
            self.shield(ancestor)
            os.makedirs(target, 0o755)
        r = subprocess.run(["mount", "--bind", source, target], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"mount --bind {source} {target} failed: {r.stderr.strip()}")
        self.outside_mounts.append(target)

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in reversed(self.processes):
            p.stop()
        for mp in reversed(self.outside_mounts):
            if subprocess.run(["umount", mp], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mp], capture_output=True)
        unmount_all(self.path)
        left = mounts_under(self.path)
        if left:
            log(f"could not unmount: {' '.join(left)}")
        shutil.rmtree(self.path, ignore_errors=True)


class Registry:
    """docker-registry on 127.0.0.1:PORT, storage under the scratch dir."""

    def __init__(self, scratch):
        d = scratch.sub("registry")
        for _ in range(5):
            self.port = free_port()
            cfg = os.path.join(d, "config.yml")
            with open(cfg, "w") as f:
                f.write(f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {d}/storage
http:
  addr: 127.0.0.1:{self.port}
""")
            self.process = Process("docker-registry", ["docker-registry", "serve", cfg],
                                   os.path.join(d, "registry.log"))
            scratch.processes.append(self.process)
            if self._wait_ready():
                self.host = f"127.0.0.1:{self.port}"
                return
            self.process.stop()
        raise RuntimeError("docker-registry did not start:\n" + self.process.log_tail())

    def _wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                return False
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def push(self, layout, tag, name):
        """Pushes layout:tag with skopeo; returns the pull reference."""
        ref = f"{self.host}/{name}:{tag}"
        r = subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false",
                            f"oci:{layout}:{tag}", f"docker://{ref}"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise AssertionError(f"skopeo push of {layout}:{tag} failed: {r.stderr.strip()}")
        return ref

    def manifest_digest(self, name, tag):
        """The digest the registry serves for name:tag (an OCI manifest)."""
        req = urllib.request.Request(
            f"http://{self.host}/v2/{name}/manifests/{tag}", method="HEAD",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.headers["Docker-Content-Digest"]


def toml_strings(values):
    """A TOML array of basic strings."""
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def stream_processors(decoder, keys_dir, returns_tar=False, zstd=False, env=None):
    """The [stream_processors] of containerd's config for layercrypt-decoder.
    keys_dir None: no --decryption-keys-path (keys come from key providers
    only). returns_tar: the decoder also decompresses (`--decompress`) and
    hands containerd the plain tar; otherwise containerd gets tar+gzip
    (tar+zstd) back and decompresses it itself. zstd: a third processor for
    tar+zstd+encrypted layers. env: {NAME: VALUE} for the processors' `env`
    (containerd adds it to its own environment), e.g.
    OCICRYPT_KEYPROVIDER_CONFIG."""
    args = (["--decryption-keys-path", keys_dir] if keys_dir is not None else []) + \
        (["--decompress"] if returns_tar else [])
    entries = [(PROCESSOR_TAR_GZIP, LAYER_GZIP_ENC, LAYER if returns_tar else LAYER_GZIP),
               (PROCESSOR_TAR, LAYER_ENC, LAYER)]
    if zstd:
        entries.append((PROCESSOR_TAR_ZSTD, LAYER_ZSTD_ENC, LAYER if returns_tar else LAYER_ZSTD))
    out = "[stream_processors]\n"
    for pid, accepts, returns in entries:
        out += (f'  [stream_processors."{pid}"]\n'
                f'    accepts = ["{accepts}"]\n'
                f'    returns = "{returns}"\n'
                f'    path = {json.dumps(decoder)}\n'
                f'    args = {toml_strings(args)}\n')
        if env:
            out += f'    env = {toml_strings(f"{k}={v}" for k, v in sorted(env.items()))}\n'
    return out


class Containerd:
    """containerd with the CRI plugin, everything under scratch/NAME:
    root, state, sockets, registry hosts and an empty CNI config dir.
    This class runs Debian 12's containerd 1.6 (config version 2);
    Containerd2 runs containerd 2.x."""
    CONTAINERD, CTR = "containerd", "ctr"

    def __init__(self, scratch, name, registry_host, processors="", env=None):
        self.dir = scratch.sub(name)
        self.socket = os.path.join(self.dir, "c.sock")
        certs = os.path.join(self.dir, "certs.d")
        os.makedirs(os.path.join(certs, registry_host), exist_ok=True)
        with open(os.path.join(certs, registry_host, "hosts.toml"), "w") as f:
            f.write(f'server = "http://{registry_host}"\n')
        self.hosts_dir = certs
        for sub in ("root", "state", "opt", "cni"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.root = os.path.join(self.dir, "root")
        self.config = os.path.join(self.dir, "config.toml")
        with open(self.config, "w") as f:
            f.write(self.config_text(processors))
        self.process = Process("containerd", [self.CONTAINERD, "--config", self.config],
                               os.path.join(self.dir, "containerd.log"),
                               env=dict(os.environ, **(env or {})))
        scratch.processes.append(self.process)
        self.pid = self.process.pid
        import containerd_client
        self.client = containerd_client.Client(self.socket)
        self._wait_ready()

    def config_text(self, processors):
        return f"""version = 2
root = "{self.dir}/root"
state = "{self.dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "{self.dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".image_decryption]
    key_model = "node"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{self.hosts_dir}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "{self.dir}/cni"
    bin_dir = "{self.dir}/cni"

{processors}"""

    def _wait_ready(self, timeout=60):
        import grpc
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.process.alive():
                break
            if os.path.exists(self.socket):
                try:
                    self.client.containerd_version(timeout=5)
                    self.client.list_images(timeout=5)  # the CRI plugin is up
                    return
                except grpc.RpcError as e:
                    last = e
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"containerd did not become ready ({last}); log tail:\n"
                           + self.process.log_tail())

    def ctr(self, *args, namespace="k8s.io", check=True, timeout=300):
        r = subprocess.run([self.CTR, "--address", self.socket, "-n", namespace, *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed: {r.stderr.strip()}\n"
                                 f"containerd log tail:\n{self.process.log_tail()}")
        return r

    def cpu_seconds(self):
        """utime+stime+cutime+cstime of containerd: its own CPU time plus
        that of every child it has waited for (decoders, unpigz)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state); utime..cstime are fields 14-17.
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def children(self):
        kids = []
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/children") as f:
                    kids += f.read().split()
            except OSError:
                pass
        return kids

    def wait_no_children(self, timeout=30):
        deadline = time.monotonic() + timeout
        while self.children() and time.monotonic() < deadline:
            time.sleep(0.05)

    def log_tail(self, lines=40):
        return self.process.log_tail(lines)

    @contextlib.contextmanager
    def explain(self):
        """On any failure inside, show containerd's log tail."""
        try:
            yield
        except BaseException:
            log(f"--- containerd log tail ({self.process.log_path}) ---\n{self.log_tail()}\n---")
            raise

    def stop(self):
        self.client.close()
        self.process.stop()


# containerd 2.x: Debian sid's package, fetched and unpacked (not installed)
# into a cache that outlives the test runs; its binaries run on Debian 12.
PEERS_CACHE = os.environ.get("LAYERCRYPT_PEERS_CACHE", "/var/cache/layercrypt-peers")
SID_SOURCE = "deb http://deb.debian.org/debian sid main"
_fetched = {}


def _once(name, make):
    """make()'s result, made once per process; a failure is raised again
    (as RuntimeError) on later calls without trying again."""
    if name not in _fetched:
        try:
            _fetched[name] = make()
        except Exception as e:
            _fetched[name] = e
            raise
    if isinstance(_fetched[name], Exception):
        raise RuntimeError(str(_fetched[name]))  # tried once already
    return _fetched[name]


def _apt_options(cache):
    # A private apt state: sid's lists never reach the system's apt, and
    # sid's archive metadata is a dated snapshot (no Valid-Until check).
    return ["-o", f"Dir::Etc::sourcelist={cache}/sources.list", "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::Lists={cache}/lists", "-o", f"Dir::Cache={cache}",
            "-o", "Acquire::Check-Valid-Until=false", "-o", "APT::Sandbox::User=root"]


def _run_version(binary):
    try:
        r = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def containerd2_bin_dir():
    """The directory of containerd 2.x's `containerd` and `ctr`: Debian
    sid's containerd package, downloaded with a private apt state and
    unpacked (`dpkg-deb -x`) under PEERS_CACHE/containerd-sid on first use;
    later runs reuse it (LAYERCRYPT_REFRESH_PEERS=1 fetches it again).
    Raises RuntimeError, saying why, when it cannot be fetched: a machine
    that runs containerd 1.6 must not pass these tests by skipping them."""
    return _once("containerd2", _containerd2_bin_dir)


def _containerd2_bin_dir():
    import fcntl
    cache = PEERS_CACHE
    unpacked = os.path.join(cache, "containerd-sid")
    bin_dir = os.path.join(unpacked, "usr", "bin")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs fetch once
        version = _run_version(os.path.join(bin_dir, "containerd"))
        if version is None or os.environ.get("LAYERCRYPT_REFRESH_PEERS") == "1":
            _fetch_containerd2(cache, unpacked)
            version = _run_version(os.path.join(bin_dir, "containerd"))
            if version is None:
                raise RuntimeError(f"containerd from Debian sid, unpacked in {unpacked}, "
                                   "does not run (--version failed)")
    if "/v2 " not in version:
        raise RuntimeError(f"{bin_dir}/containerd is not containerd 2.x: {version}")
    log(f"containerd 2: {version} ({bin_dir})")
    return bin_dir


def _fetch_containerd2(cache, unpacked):
    t0 = time.monotonic()
    log(f"fetching containerd from Debian sid into {cache} (once; later runs reuse it)")
    for d in ("lists/partial", "archives/partial"):
        os.makedirs(os.path.join(cache, d), exist_ok=True)
    with open(os.path.join(cache, "sources.list"), "w") as f:
        f.write(SID_SOURCE + "\n")
    opts = _apt_options(cache)

    def apt(*args):
        try:
            r = subprocess.run(["apt-get", *opts, *args], cwd=cache, capture_output=True,
                               text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RuntimeError(f"cannot fetch containerd 2 from Debian sid: apt-get {args[0]}: {e}")
        if r.returncode != 0:
            raise RuntimeError(f"cannot fetch containerd 2 from Debian sid ({SID_SOURCE}): "
                               f"apt-get {' '.join(args)} failed: {r.stderr.strip()[-800:]}")
        return r
    r = apt("update")
    lists = os.path.join(cache, "lists")
    if not any(n.endswith("_Packages") or "_Packages." in n for n in os.listdir(lists)):
        # apt-get update exits 0 when it cannot reach the archive.
        raise RuntimeError(f"cannot fetch containerd 2 from Debian sid ({SID_SOURCE}): "
                           f"apt-get update got no package list: {r.stderr.strip()[-800:]}")
    for old in os.listdir(cache):
        if old.startswith("containerd_") and old.endswith(".deb"):
            os.remove(os.path.join(cache, old))
    apt("download", "containerd")
    debs = [n for n in os.listdir(cache) if n.startswith("containerd_") and n.endswith(".deb")]
    if len(debs) != 1:
        raise RuntimeError(f"apt-get download containerd left {debs} in {cache}")
    tmp = f"{unpacked}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    r = subprocess.run(["dpkg-deb", "-x", os.path.join(cache, debs[0]), tmp],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"dpkg-deb -x {debs[0]} failed: {r.stderr.strip()}")
    shutil.rmtree(unpacked, ignore_errors=True)
    os.rename(tmp, unpacked)  # appears whole
    log(f"fetched and unpacked {debs[0]} in {time.monotonic() - t0:.1f} s")


# skopeo 1.22 (Go ocicrypt 1.1.10), gnupg and softhsm2 of Debian sid need
# sid's libraries: they run in a sid root file system (mmdebstrap), made
# once under PEERS_CACHE/sid-root and entered with chroot (SidChroot).
SID_ROOT_PACKAGES = ("skopeo", "ca-certificates", "gnupg", "softhsm2")
SID_MIRROR = "http://deb.debian.org/debian"
SID_SKOPEO_VERSION = "1.22"


def sid_root():
    """The path of a Debian sid root file system holding SID_ROOT_PACKAGES,
    made with mmdebstrap under PEERS_CACHE/sid-root on first use (250 to
    375 MB, about a minute) and reused by later runs
    (LAYERCRYPT_REFRESH_PEERS=1 makes it again). Never change it: enter it
    through SidChroot, which puts an overlay on it. Raises RuntimeError,
    saying why, when it cannot be made or its skopeo is not 1.22: a test
    that needs it must fail, not skip."""
    return _once("sid-root", _sid_root_path)


def _chroot_version(root, program):
    if not os.path.isfile(os.path.join(root, "usr", "bin", program)):
        return None
    try:
        r = subprocess.run(["chroot", root, program, "--version"], capture_output=True,
                           text=True, timeout=60, env=SidChroot.BASE_ENV)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def _sid_root_path():
    import fcntl
    cache = PEERS_CACHE
    root = os.path.join(cache, "sid-root")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs build once
        _remove_stale_sid_roots(cache)
        version = _chroot_version(root, "skopeo")
        if version is None or os.environ.get("LAYERCRYPT_REFRESH_PEERS") == "1":
            _build_sid_root(cache, root)
            version = _chroot_version(root, "skopeo")
            if version is None:
                raise RuntimeError(f"the Debian sid root {root} was made but "
                                   "`chroot ROOT skopeo --version` fails in it")
    if not version.startswith(f"skopeo version {SID_SKOPEO_VERSION}."):
        raise RuntimeError(f"{root} has {version!r}, not skopeo {SID_SKOPEO_VERSION} "
                           "(LAYERCRYPT_REFRESH_PEERS=1 makes the root again)")
    log(f"Debian sid root: {version} ({root})")
    return root


def _remove_tree(path):
    """rm -rf of a directory that must have nothing mounted below it (it
    would remove what the mount shows)."""
    left = mounts_under(path)
    if left:
        raise RuntimeError(f"will not remove {path}: mounted below it: {' '.join(left)}")
    shutil.rmtree(path, ignore_errors=True)


def _remove_stale_sid_roots(cache):
    """Half-made or replaced roots (sid-root.tmp-PID, sid-root.old-PID)
    left by a run that is gone."""
    for name in os.listdir(cache):
        if not name.startswith(("sid-root.tmp-", "sid-root.old-")):
            continue
        owner = name.rsplit("-", 1)[1]
        if owner.isdigit() and not pid_alive(int(owner)):
            path = os.path.join(cache, name)
            log(f"removing {path} left by a killed run (pid {owner})")
            unmount_all(path)
            _remove_tree(path)


def _build_sid_root(cache, root):
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("cannot make the Debian sid root: mmdebstrap is not installed "
                           "(apt-get install mmdebstrap; ./tools/run.sh test installs it)")
    t0 = time.monotonic()
    log(f"making a Debian sid root with {', '.join(SID_ROOT_PACKAGES)} in {root} "
        "(once; later runs reuse it)")
    tmp = f"{root}.tmp-{os.getpid()}"
    if os.path.lexists(tmp):
        unmount_all(tmp)
        _remove_tree(tmp)
    argv = ["mmdebstrap", "--mode=root", "--variant=apt",
            "--aptopt=Acquire::Check-Valid-Until \"false\"",
            f"--include={','.join(SID_ROOT_PACKAGES)}", "sid", tmp, SID_MIRROR]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        unmount_all(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"cannot make the Debian sid root: {' '.join(argv)}: {e}")
    if r.returncode != 0:
        unmount_all(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"cannot make the Debian sid root ({SID_MIRROR} sid): "
                           f"{' '.join(argv)} failed ({r.returncode}): "
                           f"{(r.stderr or r.stdout).strip()[-1500:]}")
    if os.path.lexists(root):  # LAYERCRYPT_REFRESH_PEERS=1 or a broken root
        old = f"{root}.old-{os.getpid()}"
        os.rename(root, old)
        _remove_tree(old)
    os.rename(tmp, root)  # appears whole
    log(f"made the Debian sid root in {time.monotonic() - t0:.1f} s")


class Containerd2(Containerd):
    """containerd 2.x (containerd2_bin_dir()), config version 3, everything
    under scratch/NAME as for 1.6; the erofs, blockfile snapshotters and NRI
    (a socket under /var/run) are off. use_local_image_pull: CRI pulls with
    the client-side unpacker of 2.0 and 1.x, which hands the ocicrypt
    processors their payload; otherwise through the transfer service (the
    2.1 default), which hands them none. processors None: no
    [stream_processors] table, so containerd's built-in defaults apply
    (`ctd-decoder` on PATH, keys in /etc/containerd/ocicrypt/keys).
    literal_strings: the config's strings in single quotes, as
    `containerd config default` writes them."""

    def __init__(self, scratch, name, registry_host, processors=None, env=None,
                 use_local_image_pull=False, literal_strings=False):
        self.literal_strings = literal_strings
        bin_dir = containerd2_bin_dir()
        # containerd 2 makes /run/containerd (the default directory of shim
        # sockets and fifos) whatever its state directory is.
        scratch.shield("/run")
        self.CONTAINERD = os.path.join(bin_dir, "containerd")
        self.CTR = os.path.join(bin_dir, "ctr")
        self.use_local_image_pull = use_local_image_pull
        super().__init__(scratch, name, registry_host, processors or "", env)

    def config_text(self, processors):
        d = self.dir
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        local = "true" if self.use_local_image_pull else "false"
        text = f"""version = 3
root = "{d}/root"
state = "{d}/state"
temp = "{d}/tmp"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.erofs",
                    "io.containerd.snapshotter.v1.blockfile", "io.containerd.nri.v1.nri"]

[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  level = "info"

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "{d}/opt"
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    use_local_image_pull = {local}
    [plugins.'io.containerd.cri.v1.images'.image_decryption]
      key_model = 'node'
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = "{self.hosts_dir}"
  [plugins.'io.containerd.cri.v1.runtime']
    enable_cdi = false
    cdi_spec_dirs = ["{d}/cdi"]
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      conf_dir = "{d}/cni"
      bin_dirs = ["{d}/cni"]
  [plugins.'io.containerd.image-verifier.v1.bindir']
    bin_dir = "{d}/opt/image-verifier"

{processors}"""
        return text.replace('"', "'") if self.literal_strings else text

    def pull_with_ctr(self, ref, namespace, local=False, timeout=300):
        """`ctr images pull` into namespace, unpacked into overlayfs: through
        the transfer service (ctr 2.x's default) or, with local, with the
        client-side puller and unpacker (`--local`)."""
        args = ["images", "pull", "--plain-http", "--hosts-dir", self.hosts_dir,
                "--snapshotter", "overlayfs"] + (["--local"] if local else []) + [ref]
        return self.ctr(*args, namespace=namespace, timeout=timeout)


def mount(mounts, target):
    """Mounts what a snapshotter returned (overlay or bind) at target."""
    if len(mounts) != 1:
        raise AssertionError(f"expected one mount, got {mounts}")
    m = mounts[0]
    os.makedirs(target, exist_ok=True)
    r = subprocess.run(["mount", "-t", m["type"], "-o", ",".join(m["options"]), m["source"],
                        target], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"mount {m} on {target} failed: {r.stderr.strip()}")


def umount(target):
    subprocess.run(["umount", target], check=True, capture_output=True)


def tree(root):
    """A comparable description of a directory tree: {path: attributes} for
    every entry below root (type, mode, owner, content digest or link
    target or device number, mtime of non-directories), and the groups of
    hard-linked paths."""
    import hashlib
    entries, inodes = {}, {}
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            attrs = [kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]
            if stat.S_ISREG(kind):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                attrs += [st.st_size, h.hexdigest(), int(st.st_mtime)]
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISLNK(kind):
                attrs += [os.readlink(p), int(st.st_mtime)]
            elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
                attrs += [st.st_rdev]
            entries[rel] = tuple(attrs)
    links = sorted(tuple(sorted(v)) for v in inodes.values() if len(v) > 1)
    return entries, links


def tree_differences(got, want):
    """Human-readable differences between two tree() results (empty: equal)."""
    (ge, gl), (we, wl) = got, want
    out = [f"missing: {p}" for p in sorted(we.keys() - ge.keys())]
    out += [f"unexpected: {p}" for p in sorted(ge.keys() - we.keys())]
    out += [f"differs: {p}: got {ge[p]}, want {we[p]}"
            for p in sorted(ge.keys() & we.keys()) if ge[p] != we[p]]
    if gl != wl:
        out.append(f"hard links: got {gl}, want {wl}")
    return out


def chain_ids(diff_ids):
    """The snapshot names containerd gives the layers (OCI ChainID)."""
    import hashlib
    out = []
    for d in diff_ids:
        out.append(d if not out else
                   "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


class SidChroot:
    """Runs programs of the Debian sid root (sid_root(): skopeo 1.22, gpg,
    softhsm2-util) on files of the host.

    The cached root is never changed: it is the lower layer of an overlay
    mounted in a scratch directory (SCRATCH_PREFIX, PID), whose upper layer
    takes whatever the programs write (/var/tmp, /root). `shared` host
    directories (or files) are bind-mounted read-write, `read_only` ones
    read-only, at the same path inside, so that every path means the same
    file inside and out; /proc (a new proc mount) and /dev (the host's) are
    there too. Needs the private mount namespace of
    enter_private_mount_namespace(): the mounts vanish with the program
    even after SIGKILL; close() unmounts them before that.

    Host programs from inside (key-provider `cmd` binaries): a program built
    on Debian 12 cannot be relied on to run in the sid root itself (it may
    need host-only libraries, e.g. libgrpc++1.51, whose soname sid lacks,
    or read the host's OpenSSL config and modules), and loading it with the
    host's ld.so and libraries still leaves it sid's /etc and
    /proc/self/exe pointing at ld.so. host_command() writes a wrapper
    script instead, `exec chroot /proc/PID/root env -C "$PWD" PROGRAM...`,
    PID being this process: the program runs on the host's own file system
    view (this mount namespace's), with the host's libraries, config and
    paths, its stdin, stdout, stderr, arguments and environment passed
    through. The wrapper lies in a directory shared at the same path, so
    one key-provider config serves skopeo inside and host programs outside
    (on the host, chroot /proc/PID/root is the same root)."""

    BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": "/root", "LANG": "C.UTF-8"}
    # Taken from our environment when set (run()'s env adds or overrides).
    PASS_ENV = ("OCICRYPT_KEYPROVIDER_CONFIG", "OCICRYPT_OAEP_HASHALG", "SOFTHSM2_CONF",
                "GNUPGHOME")

    def __init__(self, shared=(), read_only=(), root=None):
        if os.environ.get("LAYERCRYPT_E2E_MOUNT_NS") != "1":
            raise RuntimeError("SidChroot needs a private mount namespace "
                               "(enter_private_mount_namespace(), as root): its mounts "
                               "would otherwise be the host's and outlive a killed test")
        lower = root or sid_root()
        remove_stale_scratch()
        self.dir = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-sid-")
        self.root = os.path.join(self.dir, "root")
        self.bin_dir = os.path.join(self.dir, "bin")
        self.closed = False
        try:
            for d in ("upper", "work", "root", "bin"):
                os.makedirs(os.path.join(self.dir, d))
            self._mount(["-t", "overlay", "overlay", "-o",
                         f"lowerdir={lower},upperdir={self.dir}/upper,workdir={self.dir}/work",
                         self.root])
            self._mount(["-t", "proc", "proc", os.path.join(self.root, "proc")])
            self._mount(["--rbind", "/dev", os.path.join(self.root, "dev")])
            binds = [(p, False) for p in shared] + [(p, True) for p in read_only]
            binds.append((self.bin_dir, True))
            for path, ro in sorted(binds, key=lambda b: len(os.path.realpath(b[0]))):
                self.bind(path, read_only=ro)
        except BaseException:
            self.close()
            raise

    def _mount(self, args):
        r = subprocess.run(["mount", *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"mount {' '.join(args)} failed: {r.stderr.strip()}")

    def inside(self, path):
        """Where the host path `path` is seen from outside the root."""
        return os.path.join(self.root, os.path.realpath(path).lstrip("/"))

    def bind(self, path, read_only=False):
        """Bind-mounts the host file or directory `path` at the same path in
        the root (until close())."""
        path = os.path.realpath(path)
        if not os.path.exists(path):
            raise RuntimeError(f"cannot share {path} with the sid root: it does not exist")
        target = self.inside(path)
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.exists(target):
                open(target, "a").close()
        self._mount(["--bind", path, target])
        if read_only:
            self._mount(["-o", "remount,bind,ro", target])

    def host_command(self, name, argv):
        """A wrapper script, at a path valid inside the root and outside,
        that runs the host program argv (plus the wrapper's own arguments)
        on the host's file system (see the class comment). Use it as a
        key-provider `cmd` path."""
        import shlex
        path = os.path.join(self.bin_dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n"
                    "# Runs a host program from the Debian sid root: back to the root\n"
                    "# file system of the process that made the chroot.\n"
                    f"exec /usr/sbin/chroot /proc/{os.getpid()}/root /usr/bin/env "
                    f"-C \"$PWD\" {' '.join(shlex.quote(a) for a in argv)} \"$@\"\n")
        os.chmod(path, 0o755)
        return path

    def environment(self, env=None):
        full = dict(self.BASE_ENV)
        full.update({k: os.environ[k] for k in self.PASS_ENV if k in os.environ})
        full.update(env or {})
        return full

    def run(self, argv, env=None, cwd="/", input=None, timeout=600):
        """Runs argv (a program of the sid root, or a shared path) inside the
        root, in cwd (a path inside), with BASE_ENV, the PASS_ENV variables
        we have and env. Returns the CompletedProcess (text stdout, stderr,
        returncode); input is text for its stdin."""
        if self.closed:
            raise RuntimeError("SidChroot used after close()")
        return subprocess.run(["chroot", self.root, "/usr/bin/env", "-C", cwd, *argv],
                              env=self.environment(env), input=input, capture_output=True,
                              text=True, timeout=timeout)

    def close(self):
        if self.closed:
            return
        self.closed = True
        unmount_all(self.dir)
        left = mounts_under(self.dir)
        if left:
            log(f"could not unmount: {' '.join(left)}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SidSkopeo(SidChroot):
    """skopeo 1.22 (Go ocicrypt 1.1.10) of the Debian sid root, on host
    files (SidChroot's shared and read_only paths)."""

    def skopeo(self, *args, env=None, timeout=600):
        """`skopeo --insecure-policy ARGS` inside: the CompletedProcess."""
        return self.run(["skopeo", "--insecure-policy", *args], env=env, timeout=timeout)

    def copy(self, src, dst, *options, env=None, timeout=600):
        """`skopeo copy OPTIONS SRC DST`; AssertionError with skopeo's
        stderr when it fails."""
        r = self.skopeo("copy", "-q", *options, src, dst, env=env, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"skopeo {SID_SKOPEO_VERSION} copy {' '.join(options)} {src} "
                                 f"{dst} failed ({r.returncode}): {r.stderr.strip()}")
        return r

    def version(self):
        return self.skopeo("--version").stdout.strip()
