// `sqlx::migrate!` embeds the migrations at compile time; a migration added without any
// other change to this crate would otherwise be left out of an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
