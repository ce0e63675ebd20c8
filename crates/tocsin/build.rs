//! Stamps the binary with the git revision it was built from, for `tocsin --version`:
//! `BUILD_GIT_REVISION` from the environment (a package build sets it; not a `TOCSIN_`
//! name, which the configuration would take for a setting), else `git rev-parse`,
//! else "unknown" (a source tarball without git).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BUILD_GIT_REVISION");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
    let rev = std::env::var("BUILD_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            let rev = String::from_utf8(out.stdout).ok()?;
            let rev = rev.trim().to_string();
            (out.status.success() && !rev.is_empty()).then_some(rev)
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=BUILD_GIT_REVISION={rev}");
}
