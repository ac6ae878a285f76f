//! The `syncodec` binary: a thin wrapper around [`syncodec::cli::run`].

fn main() -> std::process::ExitCode {
    syncodec::cli::run()
}
