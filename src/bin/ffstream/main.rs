//! The `ffstream` command-line tool.
fn main() {
    ffstream::init();
    println!("ffstream {}", env!("CARGO_PKG_VERSION"));
}
