//! Records the git commit the binary was built from, for `blogd --version`.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=BUILD_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves. In a worktree `.git` is a file, so ask git where HEAD lives
    // (a path that does not exist would make cargo rerun this script on every build).
    match git(&["rev-parse", "--git-path", "HEAD"]) {
        Some(head) => {
            println!("cargo:rerun-if-changed={head}");
            if let Some(refs) = git(&["rev-parse", "--git-path", "refs/heads"]) {
                println!("cargo:rerun-if-changed={refs}");
            }
        }
        None => println!("cargo:rerun-if-changed=build.rs"),
    }
}
