use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = setup::cli::parse();
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::from(1);
            }
        };
    let code = runtime.block_on(setup::run(cli));
    // A prompt interrupted by a signal still blocks on stdin: do not wait for it.
    runtime.shutdown_background();
    code
}
