//! The `blogd` binary: parses the command line and runs the command.

fn main() -> std::process::ExitCode {
    blogd::cli::main()
}
