//! The `syncodec` binary: a thin wrapper around [`syncodec_cli::run`].

fn main() -> std::process::ExitCode {
    syncodec_cli::run()
}
