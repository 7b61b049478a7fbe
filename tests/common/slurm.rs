//! A real single-node Slurm cluster on 127.0.0.1 for the farm tests.
//!
//! [`SlurmCluster::start`] runs Debian's `munged`, `slurmctld` and `slurmd`
//! (packages munge, slurmctld, slurmd, slurm-client; `bash tests/dev.sh
//! deps` installs them) as children of the test, in the foreground, with
//! everything in a temporary folder: a fresh MUNGE key and socket, the
//! `slurm.conf` (free ports, one node of this machine's CPUs, one partition),
//! the controller's state, the node's spool and the logs. Slurm's commands
//! find the cluster through `SLURM_CONF` ([`SlurmCluster::command`] sets it),
//! so nothing in /etc is read or changed and clusters of tests running at
//! the same time do not meet. `start` returns once `sinfo` shows the node
//! idle; `Drop` cancels every job of the cluster and stops the daemons by
//! their PIDs. Each daemon also gets `PR_SET_PDEATHSIG` (through util-linux's
//! `setpriv`), so it dies with the test process.
//!
//! Everything runs as root, as Slurm and MUNGE allow (`SlurmUser=root`).
#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long the node may take to show up idle.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The node's and the partition's names.
pub const NODE: &str = "ffstream-node";
/// See [`NODE`].
pub const PARTITION: &str = "farm";

/// One daemon, a child of the test.
struct Daemon {
    name: &'static str,
    child: Child,
}

impl Daemon {
    /// Starts `program args` through `setpriv --pdeathsig KILL` (which execs
    /// it: same PID), output to `log`, with `SLURM_CONF` set.
    fn spawn(name: &'static str, program: &str, args: &[&str], conf: &Path, log: &Path) -> Daemon {
        let out = std::fs::File::create(log).unwrap_or_else(|e| panic!("{name}: {log:?}: {e}"));
        let err = out.try_clone().expect("clone a log handle");
        let child = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--", program])
            .args(args)
            .env("SLURM_CONF", conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{name}: cannot run {program} (bash tests/dev.sh deps): {e}")
            });
        Daemon { name, child }
    }

    /// TERM, a moment to finish, then KILL; reaped either way.
    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-s", "TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running cluster; stopped on drop.
pub struct SlurmCluster {
    dir: TempDir,
    conf: PathBuf,
    /// In start order; stopped in reverse.
    daemons: Vec<Daemon>,
}

impl SlurmCluster {
    /// Starts MUNGE, the controller and the node, and waits until the node
    /// is idle. Panics with the daemons' logs if it is not within
    /// [`READY_TIMEOUT`].
    pub fn start() -> SlurmCluster {
        let dir = tempfile::Builder::new()
            .prefix("ffstream-slurm-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path();
        // MUNGE wants its socket's folder (and those above) open to all, its
        // key, seed and log folders private.
        for (sub, mode) in [
            ("", 0o755),
            ("run", 0o755),
            ("munge", 0o700),
            ("log", 0o700),
        ] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        for sub in ["state", &format!("spool/{NODE}")] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let key_path = root.join("munge/munge.key");
        std::fs::write(&key_path, munge_key()).unwrap();
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o400)).unwrap();
        let conf = root.join("slurm.conf");
        std::fs::write(&conf, slurm_conf(root)).unwrap();
        let mut cluster = SlurmCluster {
            conf,
            daemons: Vec::new(),
            dir,
        };
        cluster.spawn_daemons();
        cluster.wait_idle();
        cluster
    }

    fn spawn_daemons(&mut self) {
        let root = self.dir.path().to_path_buf();
        let p = |rel: &str| root.join(rel).to_string_lossy().into_owned();
        let munge_args = [
            "--foreground".to_string(),
            format!("--socket={}", p("run/munge.socket")),
            format!("--key-file={}", p("munge/munge.key")),
            format!("--seed-file={}", p("munge/munged.seed")),
            format!("--pid-file={}", p("run/munged.pid")),
            format!("--log-file={}", p("log/munged.log")),
            "--num-threads=4".to_string(),
        ];
        let munge_args: Vec<&str> = munge_args.iter().map(String::as_str).collect();
        let conf = self.conf.clone();
        self.daemons.push(Daemon::spawn(
            "munged",
            "munged",
            &munge_args,
            &conf,
            &root.join("log/munged.out"),
        ));
        self.wait_for(Duration::from_secs(10), "the MUNGE socket", || {
            root.join("run/munge.socket").exists()
        });
        // -D: foreground; -i: ignore any saved state (there is none).
        self.daemons.push(Daemon::spawn(
            "slurmctld",
            "slurmctld",
            &["-D", "-i"],
            &conf,
            &root.join("log/slurmctld.out"),
        ));
        self.daemons.push(Daemon::spawn(
            "slurmd",
            "slurmd",
            &["-D", "-N", NODE],
            &conf,
            &root.join("log/slurmd.out"),
        ));
    }

    fn wait_idle(&mut self) {
        let conf = self.conf.clone();
        self.wait_for(READY_TIMEOUT, "the node to be idle", || {
            let out = Command::new("sinfo")
                .args(["-h", "-N", "-o", "%T"])
                .env("SLURM_CONF", &conf)
                .output();
            out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
    }

    /// Polls `ready` every 100 ms; panics with the logs if a daemon exits
    /// or `timeout` passes first.
    fn wait_for(&mut self, timeout: Duration, what: &str, ready: impl Fn() -> bool) {
        let start = Instant::now();
        loop {
            if ready() {
                return;
            }
            let exited = self.daemons.iter_mut().find_map(|d| {
                d.child
                    .try_wait()
                    .ok()
                    .flatten()
                    .map(|status| (d.name, status))
            });
            if let Some((name, status)) = exited {
                panic!(
                    "{name} exited ({status}) while waiting for {what}:\n{}",
                    self.logs()
                );
            }
            if start.elapsed() > timeout {
                panic!("no {what} within {timeout:?}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The cluster's `slurm.conf` (what `SLURM_CONF` names).
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// `program` (a Slurm command, or anything that runs one) with
    /// `SLURM_CONF` set to this cluster.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Runs a Slurm command and returns its standard output; panics with
    /// its error output and the logs if it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}): {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A job's state (`PENDING`, `RUNNING`, `COMPLETED`, `FAILED`...) as
    /// `scontrol` shows it; for an array, the state of every task.
    pub fn job_states(&self, id: &str) -> Vec<String> {
        self.run("scontrol", &["show", "job", "-o", id])
            .lines()
            .filter_map(|l| {
                l.split_whitespace()
                    .find_map(|f| f.strip_prefix("JobState="))
            })
            .map(str::to_string)
            .collect()
    }

    /// Waits until job `id` (every task, for an array) has ended and returns
    /// its final states; panics with the logs after `timeout`.
    pub fn wait_job(&self, id: &str, timeout: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            let states = self.job_states(id);
            let ended = |s: &String| {
                !matches!(
                    s.as_str(),
                    "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "REQUEUED" | "SUSPENDED"
                )
            };
            if !states.is_empty() && states.iter().all(ended) {
                return states;
            }
            assert!(
                start.elapsed() < timeout,
                "job {id} still {states:?} after {timeout:?}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The daemons' logs, for a failure message.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for name in [
            "munged.out",
            "munged.log",
            "slurmctld.out",
            "slurmctld.log",
            "slurmd.out",
            "slurmd.log",
        ] {
            if let Ok(t) = std::fs::read_to_string(self.dir.path().join("log").join(name)) {
                let tail: Vec<&str> = t.lines().rev().take(30).collect();
                let _ = writeln!(s, "--- {name} (last lines)");
                for l in tail.iter().rev() {
                    let _ = writeln!(s, "{l}");
                }
            }
        }
        s
    }
}

impl Drop for SlurmCluster {
    fn drop(&mut self) {
        // Jobs still running would outlive slurmd's stop.
        let _ = self
            .command("scancel")
            .args(["--full", "--partition", PARTITION])
            .status();
        for d in self.daemons.iter_mut().rev() {
            d.stop();
        }
    }
}

/// The configuration: one node with this machine's CPUs, scheduled by
/// core (several tasks at once), no cgroups and no accounting database.
fn slurm_conf(root: &Path) -> String {
    let r = root.display();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let ctld = free_port();
    let node = std::iter::repeat_with(free_port)
        .find(|&p| p != ctld)
        .unwrap_or(ctld + 1);
    format!(
        "ClusterName=ffstream\nSlurmctldHost=localhost(127.0.0.1)\n\
         SlurmctldPort={ctld}\nSlurmdPort={node}\n\
         AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={r}/run/munge.socket\n\
         SlurmUser=root\nSlurmdUser=root\n\
         StateSaveLocation={r}/state\nSlurmdSpoolDir={r}/spool/%n\n\
         SlurmctldPidFile={r}/run/slurmctld.pid\nSlurmdPidFile={r}/run/slurmd.pid\n\
         SlurmctldLogFile={r}/log/slurmctld.log\nSlurmdLogFile={r}/log/slurmd.log\n\
         ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nMpiDefault=none\n\
         JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
         SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nSchedulerType=sched/builtin\n\
         ReturnToService=2\nSlurmdParameters=config_overrides\nMinJobAge=3600\n\
         NodeName={NODE} NodeAddr=127.0.0.1 NodeHostname=localhost CPUs={cpus} Sockets=1 \
         CoresPerSocket={cpus} ThreadsPerCore=1 State=UNKNOWN\n\
         PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP\n"
    )
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// A fresh MUNGE key: 1 KiB from the OS's random source.
fn munge_key() -> Vec<u8> {
    use std::io::Read;
    let mut key = vec![0u8; 1024];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .expect("read /dev/urandom");
    key
}
