//! The `blogd` binary as a child process: a clean environment and an explicit configuration
//! file on every run, a deadline on everything that is waited for, and a guard that kills
//! whatever a failed assertion leaves running.

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::PATIENCE;

/// The `blogd` binary, for a command on the data directory `dir`: a clean environment (no
/// stray `BLOGD_*` or `RUNTIME_DIRECTORY` of the caller) and an explicit, empty configuration
/// file, so neither the caller's shell nor an installed `/etc/blogd/blogd.toml` changes what
/// is tested.
pub fn blogd_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_blogd"));
    clean_environment(&mut command)
        .arg("--config")
        .arg(defaults_only())
        .arg("--data-dir")
        .arg(dir);
    command
}

/// Empties a child's environment but for `PATH` and, when the tests run under a coverage
/// tool, where an instrumented binary writes its counts (`LLVM_PROFILE_FILE`): without it the
/// commands the tests run through the binary would count as never run.
pub fn clean_environment(command: &mut Command) -> &mut Command {
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    command
}

/// The empty configuration file every run is given: one file in the temporary directory,
/// shared by every test (and every test process of this user: it is written whole, by a
/// rename), never inside a data directory (a first start must find none there) nor beside
/// one (it would outlive the test's temporary directory).
fn defaults_only() -> &'static Path {
    static FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        const TEXT: &str = "# blogd tests: defaults only\n";
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        let path = std::env::temp_dir().join(format!("blogd-tests-defaults-{uid}.toml"));
        if std::fs::read_to_string(&path).ok().as_deref() != Some(TEXT) {
            let mut file = tempfile::NamedTempFile::new_in(std::env::temp_dir()).unwrap();
            file.write_all(TEXT.as_bytes()).unwrap();
            file.persist(&path).unwrap();
        }
        path
    })
}

/// The first admin's one-time password in what a first `blogd serve` printed.
pub fn first_admin_password(printed: &[String]) -> String {
    printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("a first start prints the admin password")
        .to_string()
}

/// A child that is killed (and reaped) when dropped: a failed assertion never leaves it
/// running.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn describe(command: &Command) -> String {
    let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
    format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        args.join(" ")
    )
}

/// Runs `command` to its end, with `input` on its standard input, and returns what it
/// printed. Blocking. A command that hangs fails the test after [`PATIENCE`] instead of
/// hanging the suite.
pub fn run_to_end(mut command: Command, input: Option<&[u8]>) -> Output {
    let what = describe(&command);
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Reaped(command.spawn().unwrap_or_else(|e| panic!("{what}: {e}")));
    let stdout = drain(child.0.stdout.take().unwrap());
    let stderr = drain(child.0.stderr.take().unwrap());
    if let Some(input) = input {
        let (mut stdin, input) = (child.0.stdin.take().unwrap(), input.to_vec());
        // Beside the reading, so that no pipe fills up; a command that exits without reading
        // all of it is not an error here.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not finish within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// [`run_to_end`] off the test's runtime (which may be serving the very server the command
/// talks to).
pub async fn finish(command: Command, input: Option<&[u8]>) -> Output {
    let input = input.map(<[u8]>::to_vec);
    tokio::task::spawn_blocking(move || run_to_end(command, input.as_deref()))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Runs a `blogd` command on `dir` to its end (see [`run_to_end`]).
pub async fn blogd_run(dir: &Path, args: &[&str]) -> Output {
    let mut command = blogd_command(dir);
    command.args(args);
    finish(command, None).await
}

/// [`blogd_run`] for tests without a runtime.
pub fn blogd_run_blocking(dir: &Path, args: &[&str]) -> Output {
    let mut command = blogd_command(dir);
    command.args(args);
    run_to_end(command, None)
}

/// A real `blogd serve` process on a data directory (plain HTTP on a free loopback port
/// unless `env` says otherwise), killed when dropped, so a failed assertion never leaves it
/// running. Everything it prints is kept.
pub struct SpawnedServer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// What it printed before it listened (the first admin's password, say).
    pub printed: Vec<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl SpawnedServer {
    /// Starts it with `umask` (when given) and extra `BLOGD_*` settings; waits until it
    /// listens (at most [`PATIENCE`]). Blocking.
    pub fn start(dir: &Path, env: &[(&str, &str)], umask: Option<u32>) -> SpawnedServer {
        use std::os::unix::process::CommandExt;
        let mut command = blogd_command(dir);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("BLOGD_TLS_ENABLED", "false")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(mask) = umask {
            // SAFETY: umask is async-signal-safe and touches nothing but the child's mask.
            unsafe {
                command.pre_exec(move || {
                    libc::umask(mask as libc::mode_t);
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let kept = stdout.clone();
        let stdout_reader = std::thread::spawn(move || {
            let mut printed = Vec::new();
            let mut listening = false;
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                kept.lock().unwrap().push_str(&format!("{line}\n"));
                if listening {
                    continue;
                }
                if let Some(rest) = line.strip_prefix("blogd listening on ") {
                    let base = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(Some((base, std::mem::take(&mut printed))));
                    listening = true;
                } else {
                    printed.push(line);
                }
            }
            let _ = tx.send(None);
        });
        let err = child.stderr.take().unwrap();
        let kept = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                kept.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let mut server = SpawnedServer {
            child: Some(child),
            base: String::new(),
            printed: Vec::new(),
            stdout,
            stderr,
            readers: vec![stdout_reader, stderr_reader],
        };
        match rx.recv_timeout(PATIENCE) {
            Ok(Some((base, printed))) => {
                server.base = base;
                server.printed = printed;
                server
            }
            other => {
                server.kill();
                let (stdout, stderr) = server.output();
                panic!(
                    "blogd serve did not start listening ({other:?}); it printed:\n{stdout}\n\
                     and on standard error:\n{stderr}"
                )
            }
        }
    }

    /// The first admin's one-time password, from what the first start printed.
    pub fn admin_password(&self) -> String {
        first_admin_password(&self.printed)
    }

    /// Signs the first admin in over HTTP: the login answer (tokens).
    pub async fn admin_login(&self) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&serde_json::json!({"username": "admin", "password": self.admin_password()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("the server process")
    }

    /// Sends SIGTERM (a clean shutdown) without waiting for it.
    pub fn terminate(&mut self) {
        let pid = self.child().id() as i32;
        // SAFETY: sending a signal to our own child has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }

    /// Waits until it has exited (at most [`PATIENCE`]: then the test fails and the process
    /// is killed).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child().try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "blogd serve did not exit within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops it with SIGTERM and waits for it; returns whether it exited 0.
    pub fn stop(&mut self) -> bool {
        self.terminate();
        self.wait_exit().success()
    }

    fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Everything it printed on standard output (its log lines too, unless they go to files
    /// only) and on standard error. Only once it has exited.
    pub fn output(&mut self) -> (String, String) {
        assert!(
            matches!(self.child().try_wait(), Ok(Some(_))),
            "stop the server before reading all of its output"
        );
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        (stdout, stderr)
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        self.kill();
    }
}
