#!/usr/bin/env python3
"""hamr in three sites on one machine: per site an etcd member, a Patroni-managed PostgreSQL 15
and a hamr, so that site-loss drills can be run by hand and by tests/multisite/ before anyone
tries them across datacenters. As root each site is a network namespace of its own on a
bridge (10.27.0.11, .12 and .13), which `partition` can cut off from the other sites while
this machine still reaches it; otherwise the sites share loopback (127.0.0.11, .12 and .13).

`up` installs what is missing (when root: etcd from Debian's packages, unpacked rather than
installed so that no service starts; Patroni from PyPI into a venv the `postgres` user can
read), starts whatever of the three sites is not running, waits for a leader and a
synchronous standby, then for each site's hamr, and prints each site's URL and the demo keys.
`down` stops everything it started (pid files under --root); `kill SITE` is a site loss
(kill -9 of its etcd, Patroni, PostgreSQL and hamr); `partition SITE` drops every packet
between it and the other sites (nftables on the bridge), `heal` lifts that; `status` says what
runs where.

Standard library only, so that it runs before anything is installed; hamr itself is run as
`python3 -m hamr` by the interpreter that runs this script.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import string
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SITES = ("site1", "site2", "site3")
ETCD_CLIENT, ETCD_PEER, PATRONI_PORT, POSTGRES_PORT, HAMR_PORT = 2379, 2380, 8008, 5432, 8080
PATRONI_VERSION = "4.1.5"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# A lab's secrets: no address it listens on leaves this machine.
SUPERUSER_PASSWORD = "lab-superuser"  # noqa: S105
REPLICATION_PASSWORD = "lab-replication"  # noqa: S105
HAMR_PASSWORD = "lab-hamr"  # noqa: S105
RUN_AS = "postgres"
# The namespaces' bridge, its network and the nftables table that partitions it.
BRIDGE = "hamrlab0"
BRIDGE_ADDRESS = "10.27.0.1"
NETWORK = "10.27.0.0/24"
NFT_TABLE = "hamrlab"
VERBS = {
    "up": "start what is not running",
    "down": "stop everything",
    "status": "what runs where",
    "leader": "print the leading site",
    "database": "print the URL every hamr shares",
    "kill": "kill -9 a whole site",
    "partition": "cut a site off from the others",
    "heal": "end every partition",
}
SETPRIV = ("setpriv", "--reuid", RUN_AS, "--regid", RUN_AS, "--init-groups")


@dataclass(frozen=True)
class Site:
    """One site's addresses and files; everything it runs listens on its own address."""

    name: str
    address: str
    dir: Path
    netns: str | None  # its network namespace, or None on loopback

    @property
    def url(self) -> str:
        return f"http://{self.address}:{HAMR_PORT}"

    @property
    def patroni_url(self) -> str:
        return f"http://{self.address}:{PATRONI_PORT}"

    def pid_file(self, program: str) -> Path:
        return self.dir / f"{program}.pid"

    def log(self, program: str) -> Path:
        return self.dir / f"{program}.log"


class Lab:
    """The three sites under `root`, with etcd and Patroni from `cache`."""

    def __init__(self, root: Path, cache: Path, namespaces: bool | None = None):
        self.root = root.resolve()
        self.cache = cache.resolve()
        self.as_postgres = os.geteuid() == 0
        self.namespaces = self.as_postgres if namespaces is None else namespaces
        net = "10.27.0" if self.namespaces else "127.0.0"
        self.sites = [
            Site(
                name,
                f"{net}.{11 + i}",
                self.root / name,
                f"hamrlab-{name}" if self.namespaces else None,
            )
            for i, name in enumerate(SITES)
        ]

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)

    # -- what it runs --------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        """The multi-host URL every site's hamr shares: libpq tries each host and keeps the
        one that accepts writes, whichever site leads now."""
        hosts = "&".join(f"host={s.address}:{POSTGRES_PORT}" for s in self.sites)
        return (
            f"postgresql+psycopg://hamr:{HAMR_PASSWORD}@/hamr?{hosts}"
            "&target_session_attrs=read-write"
        )

    def node_url(self, site: Site) -> str:
        """One site's node alone (a replica too): for reading what that site holds."""
        return f"postgresql+psycopg://hamr:{HAMR_PASSWORD}@{site.address}:{POSTGRES_PORT}/hamr"

    @property
    def conninfo(self) -> str:
        """The same in libpq's words, for psql and psycopg."""
        hosts = ",".join(s.address for s in self.sites)
        return (
            f"host={hosts} port={POSTGRES_PORT} dbname=hamr user=hamr password={HAMR_PASSWORD}"
            " target_session_attrs=read-write"
        )

    def etcd_binary(self) -> Path:
        unpacked = self.cache / "etcd" / "usr" / "bin" / "etcd"
        if unpacked.exists():
            return unpacked
        found = shutil.which("etcd")
        return Path(found) if found else unpacked

    def patroni_binary(self) -> Path:
        return self.cache / "venv" / "bin" / "patroni"

    def install(self) -> None:
        """etcd and Patroni into the cache when missing: etcd's Debian packages unpacked
        (`dpkg-deb -x`, so no service starts), Patroni in a venv made from /usr/bin/python3
        (a venv under /root would be unreadable to `postgres`)."""
        self.cache.mkdir(parents=True, exist_ok=True)
        self.cache.chmod(0o755)
        if not self.etcd_binary().exists():
            if os.geteuid() != 0 or shutil.which("apt-get") is None:
                sys.exit("etcd is missing: run as root (apt-get) or put etcd on PATH")
            debs = self.cache / "deb"
            debs.mkdir(exist_ok=True)
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
            subprocess.run(
                ["apt-get", "download", "etcd-server", "etcd-client"],
                cwd=debs,
                check=True,
                capture_output=True,
            )
            for deb in sorted(debs.glob("*.deb")):
                subprocess.run(["dpkg-deb", "-x", str(deb), str(self.cache / "etcd")], check=True)
        if not self.patroni_binary().exists():
            venv = self.cache / "venv"
            subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [
                    str(venv / "bin" / "pip"),
                    "install",
                    "--quiet",
                    f"patroni[etcd3,psycopg3]=={PATRONI_VERSION}",
                ],
                check=True,
            )
        if self.namespaces and shutil.which("nft") is None:
            _apt_install("nftables")
        if not (PG_BIN / "postgres").exists():
            sys.exit(f"PostgreSQL 15 is missing ({PG_BIN}): apt-get install postgresql-15")

    def render(self, site: Site) -> None:
        """The site's etcd and Patroni files, from the templates beside this script."""
        values = {
            "site": site.name,
            "address": site.address,
            "dir": str(site.dir),
            "bin_dir": str(PG_BIN),
            "etcd_cluster": ",".join(
                f"{s.name}=http://{s.address}:{ETCD_PEER}" for s in self.sites
            ),
            "etcd_hosts": ",".join(f"{s.address}:{ETCD_CLIENT}" for s in self.sites),
            "network": NETWORK if self.namespaces else "127.0.0.0/8",
            "superuser_password": SUPERUSER_PASSWORD,
            "replication_password": REPLICATION_PASSWORD,
        }
        for name in ("etcd.yml", "patroni.yml"):
            text = string.Template((HERE / name).read_text()).substitute(values)
            (site.dir / name).write_text(text)

    # -- processes -----------------------------------------------------------------------

    def pid(self, site: Site, program: str) -> int | None:
        """The pid `program` was started with, if it still runs (postgres: the postmaster)."""
        path = (
            site.dir / "postgres" / "postmaster.pid"
            if program == "postgres"
            else site.pid_file(program)
        )
        try:
            pid = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def spawn(self, site: Site, program: str, command: list[str], as_postgres: bool) -> int:
        """Start `program` in a session of its own (it outlives this script), logging to the
        site's directory; its pid goes to a pid file for `down` and `kill`."""
        prefix = ["ip", "netns", "exec", site.netns] if site.netns else []
        prefix += list(SETPRIV) if as_postgres and self.as_postgres else []
        with site.log(program).open("ab") as log:
            process = subprocess.Popen(
                [*prefix, *command],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=site.dir,
                start_new_session=True,
            )
        site.pid_file(program).write_text(f"{process.pid}\n")
        return process.pid

    def start_cluster(self, site: Site) -> None:
        """The site's etcd member and Patroni, unless they run."""
        if not site.dir.exists():
            site.dir.mkdir(parents=True)
            if self.as_postgres:
                shutil.chown(site.dir, RUN_AS, RUN_AS)
            site.dir.chmod(0o700)
        self.render(site)
        if self.pid(site, "etcd") is None:
            config = str(site.dir / "etcd.yml")
            self.spawn(site, "etcd", [str(self.etcd_binary()), "--config-file", config], True)
        if self.pid(site, "patroni") is None:
            self.spawn(
                site, "patroni", [str(self.patroni_binary()), str(site.dir / "patroni.yml")], True
            )

    def start_hamr(self, site: Site, demo: bool) -> None:
        """The site's hamr on the shared multi-host URL, reading from its own node; rate limits
        off, so drills measure the cluster rather than the limiter."""
        command = [
            sys.executable,
            *("-m", "hamr", "serve", "--database", self.database_url),
            *("--host", site.address, "--port", str(HAMR_PORT)),
            # Reads from the site's own node, within the staleness bound, and past it while
            # its Patroni still sees the consensus store (the gap of a promotion).
            *("--read-database", self.node_url(site), "--patroni-url", site.patroni_url),
            *("--rate-limit", "hamr_get=off", "--rate-limit", "hamr_post=off"),
            *(["--demo"] if demo else []),
        ]
        self.spawn(site, "hamr", command, as_postgres=False)

    # -- the network -------------------------------------------------------------------

    def network_up(self) -> None:
        """A bridge with this machine on it, and per site a namespace joined to it by a veth
        pair; what exists already is kept."""
        if not _ip(f"link show {BRIDGE}", check=False):
            _ip(f"link add {BRIDGE} type bridge")
            _ip(f"addr add {BRIDGE_ADDRESS}/24 dev {BRIDGE}")
            _ip(f"link set {BRIDGE} up")
        for site in self.sites:
            ns = site.netns
            if ns is None or _ip(f"netns exec {ns} true", check=False):
                continue
            _ip(f"netns add {ns}")
            _ip(f"link del {ns}", check=False)  # a veth a namespace deleted earlier left behind
            _ip(f"link add {ns} type veth peer name eth0 netns {ns}")
            _ip(f"link set {ns} master {BRIDGE} up")
            _ip(f"-n {ns} addr add {site.address}/24 dev eth0")
            _ip(f"-n {ns} link set eth0 up")
            _ip(f"-n {ns} link set lo up")

    def network_down(self) -> None:
        """The partition, the namespaces and the bridge, gone (their processes are)."""
        self.heal()
        for site in self.sites:
            if site.netns is not None:
                _ip(f"netns del {site.netns}", check=False)
        _ip(f"link del {BRIDGE}", check=False)

    def partition(self, site: Site) -> None:
        """Drop every frame the bridge would carry between `site` and another site; this
        machine (clients, tests) still reaches every site."""
        if site.netns is None:
            sys.exit("partitions need the sites' namespaces: root, without HAMR_LAB_NAMESPACES=0")
        rules = "\n".join(
            [
                f"table bridge {NFT_TABLE} {{",
                "  chain forward {",
                "    type filter hook forward priority 0;",
                f'    iifname "{site.netns}" drop',
                f'    oifname "{site.netns}" drop',
                "  }",
                "}",
            ]
        )
        subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)

    def heal(self) -> None:
        """Every partition lifted: the lab's nftables table deleted."""
        if self.namespaces and shutil.which("nft"):
            subprocess.run(
                ["nft", "delete", "table", "bridge", NFT_TABLE], capture_output=True, check=False
            )

    # -- waiting -------------------------------------------------------------------------

    def cluster(self) -> list[dict[str, object]]:
        """Patroni's members as any reachable site's Patroni sees them ([] if none answers)."""
        for site in self.sites:
            try:
                return list(json.loads(http_get(f"{site.patroni_url}/cluster"))["members"])
            except (OSError, ValueError, KeyError):
                continue
        return []

    def primaries(self) -> list[Site]:
        """The sites whose Patroni says it leads (GET /primary answers 200): one, or none
        during a failover; two at once would be a split brain."""
        found = []
        for site in self.sites:
            try:
                http_get(f"{site.patroni_url}/primary")
            except OSError:
                continue
            found.append(site)
        return found

    def leader(self) -> Site | None:
        found = self.primaries()
        return found[0] if len(found) == 1 else None

    def wait_for_cluster(self, timeout: float, members: int = 3) -> Site:
        """Until a leader runs and a synchronous standby streams (and `members` run)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cluster = self.cluster()
            running = [m for m in cluster if m.get("state") in ("running", "streaming")]
            leader = self.leader()
            sync = [
                m
                for m in cluster
                if m.get("role") == "sync_standby" and m.get("state") == "streaming"
            ]
            if leader is not None and sync and len(running) >= members:
                return leader
            time.sleep(0.5)
        sys.exit(f"no leader with a synchronous standby within {timeout:.0f} s: {self.cluster()}")

    def psql(self, site: Site, sql: str) -> str:
        done = subprocess.run(
            [
                str(PG_BIN / "psql"),
                *("-h", site.address, "-p", str(POSTGRES_PORT), "-U", "postgres"),
                *("-d", "postgres", "-tAc", sql),
            ],
            env={**os.environ, "PGPASSWORD": SUPERUSER_PASSWORD},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout.strip()

    def create_database(self, leader: Site) -> None:
        """hamr's role and database, once, and its schema (before several hamr start)."""
        if not self.psql(leader, "SELECT 1 FROM pg_roles WHERE rolname = 'hamr'"):
            self.psql(leader, f"CREATE ROLE hamr LOGIN PASSWORD '{HAMR_PASSWORD}'")
        if not self.psql(leader, "SELECT 1 FROM pg_database WHERE datname = 'hamr'"):
            self.psql(leader, "CREATE DATABASE hamr OWNER hamr")
        subprocess.run(
            [sys.executable, "-m", "hamr", "db", "upgrade", "--database", self.database_url],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def wait_for_hamr(self, site: Site, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid(site, "hamr") is None:
                sys.exit(f"{site.name}'s hamr exited:\n{site.log('hamr').read_text()[-2000:]}")
            try:
                http_get(f"{site.url}/healthz")
                return
            except OSError:
                time.sleep(0.1)
        sys.exit(f"{site.name}'s hamr did not answer within {timeout:.0f} s")

    def demo_keys(self, site: Site, timeout: float = 30) -> dict[str, dict[str, str]]:
        """The demo orgs' keys as `hamr serve --demo` printed them, kept in keys.json (hamr
        shows keys once; the other sites share them through the database)."""
        keys_file = self.root / "keys.json"
        deadline = time.monotonic() + timeout
        pattern = re.compile(
            r"^  (.+?) \((\w+)\)  uuid (\S+)\n\s+DD-API-KEY\s+(\S+)\n\s+DD-APPLICATION-KEY\s+(\S+)",
            re.M,
        )
        while time.monotonic() < deadline:
            found = pattern.findall(site.log("hamr").read_text(errors="replace"))
            if len(found) >= 2:
                keys = {
                    name: {"datacenter": dc, "uuid": uuid, "api_key": api, "app_key": app}
                    for name, dc, uuid, api, app in found[-2:]
                }
                keys_file.write_text(json.dumps(keys, indent=2) + "\n")
                keys_file.chmod(0o600)
                return keys
            time.sleep(0.1)
        sys.exit(f"{site.name}'s hamr printed no demo keys within {timeout:.0f} s")

    # -- verbs ---------------------------------------------------------------------------

    def up(self, timeout: float) -> None:
        started = time.monotonic()
        self.install()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        if self.namespaces:
            self.network_up()
        for site in self.sites:
            self.start_cluster(site)
        leader = self.wait_for_cluster(timeout)
        self.create_database(leader)
        keys_file = self.root / "keys.json"
        waiting = []
        for site in self.sites:
            if self.pid(site, "hamr") is None:
                demo = not keys_file.exists()
                self.start_hamr(site, demo)
                if demo:  # the demo orgs first, by one hamr alone
                    self.wait_for_hamr(site, timeout)
                    self.demo_keys(site)
                waiting.append(site)
        for site in waiting:
            self.wait_for_hamr(site, timeout)
        print(f"up in {time.monotonic() - started:.1f} s; leader: {leader.name}")
        self.print_sites()

    def print_sites(self) -> None:
        keys = json.loads((self.root / "keys.json").read_text())
        for site in self.sites:
            print(f"{site.name}  {site.url}")
        print(f"database  {self.database_url}")
        for name, org in keys.items():
            print(f"{name} ({org['datacenter']})  uuid {org['uuid']}")
            print(f"  DD-API-KEY          {org['api_key']}")
            print(f"  DD-APPLICATION-KEY  {org['app_key']}")

    def node_pids(self, site: Site) -> list[int]:
        """The site's database node: Patroni, the postmaster and every process it started."""
        pids = [p for p in (self.pid(site, "patroni"),) if p]
        postmaster = self.pid(site, "postgres")
        if postmaster is not None:
            children = subprocess.run(
                ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True
            ).stdout.split()
            pids += [postmaster, *map(int, children)]
        return pids

    def site_pids(self, site: Site) -> list[int]:
        """Every process of the site: its hamr, its etcd member and its database node."""
        return [
            *(p for p in (self.pid(site, "hamr"), self.pid(site, "etcd")) if p),
            *self.node_pids(site),
        ]

    def kill(self, site: Site) -> None:
        """A site lost at once: kill -9 of everything it runs."""
        for pid in self.site_pids(site):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def down(self) -> None:
        """SIGTERM hamr and Patroni (which stops PostgreSQL), then etcd; SIGKILL whatever is
        left after 30 s. Frozen processes are woken first."""
        for programs in (("hamr", "patroni"), ("etcd", "postgres")):
            pids = [
                pid
                for site in self.sites
                for pid in (self.pid(site, p) for p in programs)
                if pid is not None
            ]
            for pid in pids:
                for sig in (signal.SIGCONT, signal.SIGTERM):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(_alive(p) for p in pids):
                time.sleep(0.1)
        for site in self.sites:
            self.kill(site)
            for program in ("hamr", "patroni", "etcd"):
                site.pid_file(program).unlink(missing_ok=True)
        if self.namespaces:
            self.network_down()

    def status(self) -> None:
        members = {str(m["name"]): m for m in self.cluster()}
        for site in self.sites:
            running = " ".join(
                f"{p}={self.pid(site, p) or '-'}" for p in ("etcd", "patroni", "postgres", "hamr")
            )
            member = members.get(site.name, {})
            role = f"{member.get('role', '?')}/{member.get('state', 'down')}"
            print(f"{site.name}  {site.address}  {role:24}  {running}")


# Under /var/tmp, not /tmp or /root: `postgres` must reach them, and they outlive a boot.
def default_root() -> Path:
    return Path(os.environ.get("HAMR_LAB_ROOT", "/var/tmp/hamr-lab"))  # noqa: S108


def default_cache() -> Path:
    return Path(os.environ.get("HAMR_LAB_CACHE", "/var/tmp/hamr-lab-cache"))  # noqa: S108


def namespaces_setting() -> bool | None:
    """HAMR_LAB_NAMESPACES=0 keeps a root's lab on loopback; unset, root means namespaces."""
    value = os.environ.get("HAMR_LAB_NAMESPACES")
    return None if value is None else value == "1"


def _apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)


def _ip(arguments: str, check: bool = True) -> bool:
    """`ip ARGUMENTS` (names and addresses only: split on spaces); whether it succeeded."""
    return (
        subprocess.run(["ip", *arguments.split()], capture_output=True, check=check).returncode == 0
    )


def http_get(url: str) -> bytes:
    """One GET of a URL this script built (http only), within a second."""
    with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310
        return bytes(answer.read())


def _alive(pid: int) -> bool:
    """Running, or stopped: not gone, and not a zombie its parent has yet to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "verb", choices=VERBS, help="; ".join(f"{v}: {h}" for v, h in VERBS.items())
    )
    parser.add_argument("site", nargs="?", choices=SITES, help="the site to kill or partition")
    parser.add_argument(
        "--root",
        type=Path,
        default=default_root(),
        help="where the sites' data, logs, pid files and keys go [env HAMR_LAB_ROOT]",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache(),
        help="where etcd and Patroni are installed [env HAMR_LAB_CACHE]",
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait in up")
    options = parser.parse_args()
    lab = Lab(options.root, options.cache, namespaces=namespaces_setting())
    if options.verb == "up":
        lab.up(options.timeout)
    elif options.verb == "down":
        lab.down()
    elif options.verb == "status":
        lab.status()
    elif options.verb == "leader":
        leader = lab.leader()
        if leader is None:
            sys.exit("no site leads now")
        print(leader.name)
    elif options.verb == "database":
        print(lab.database_url)
    elif options.verb == "heal":
        lab.heal()
    else:
        if options.site is None:
            parser.error(f"{options.verb} needs a site: site1, site2 or site3")
        site = lab.site(options.site)
        if options.verb == "kill":
            lab.kill(site)
        else:
            lab.partition(site)


if __name__ == "__main__":
    main()
