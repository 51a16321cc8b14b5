"""A real single-node Slurm cluster for tests: munged + slurmctld + slurmd from Debian's slurm-wlm, configured in
a temp folder (own ports, own state, own munge socket), CPU-only. ``start`` returns None when it cannot run here
(binaries missing, not root, daemons not up in time) so the test can skip with the reason."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "slurm.conf"
        self.pids: list[Path] = []
        self.reason = ""

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> SlurmCluster | None:
        missing = [b for b in BINARIES if not shutil.which(b)]
        if missing:
            self.reason = f"slurm-wlm/munge not installed ({', '.join(missing)} missing; apt-get install slurm-wlm munge)"
            return None
        if os.geteuid() != 0:
            self.reason = "a private slurmd must run as root"
            return None
        r = self.root
        munge = r / "munge"
        for d in (munge, r / "state", r / "spool", r / "log"):
            d.mkdir(parents=True)
        munge.chmod(0o711)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        sock = munge / "munge.sock"
        host = socket.gethostname().split(".")[0]
        self.conf.write_text(
            f"""ClusterName=medxtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=300
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        )
        env = os.environ | self.env
        steps = [
            (["munged", "--force", f"--key-file={key}", f"--socket={sock}", f"--pid-file={munge}/munged.pid",
              f"--log-file={munge}/munged.log", f"--seed-file={munge}/seed"], munge / "munged.pid"),  # fmt: skip
            (["slurmctld", "-c", "-i"], r / "slurmctld.pid"),
            (["slurmd", "-c"], r / "slurmd.pid"),
        ]
        for cmd, pid in steps:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                self.reason = f"{cmd[0]} did not start: {proc.stderr.strip()[-300:]}"
                self.stop()
                return None
            self.pids.append(pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout
            if out.strip() in ("idle", "mixed", "allocated"):
                return self
            time.sleep(0.5)
        self.reason = f"node not idle after {timeout}s (sinfo: {out.strip()!r})"
        self.stop()
        return None

    def stop(self) -> None:
        for pid_file in reversed(self.pids):
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        self.pids.clear()
