//! Runs the matcher from the command line exactly as `truce match` does, for
//! the benchmark and for trying the crate alone:
//! `cargo run --release -p truce-match --example match_lists -- LEFT.csv RIGHT.csv -o links.csv`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = truce_match::MatchArgs::parse();
    match truce_match::run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
