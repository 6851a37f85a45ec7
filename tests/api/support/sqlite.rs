//! A fresh SQLite file per test, in cargo's scratch folder, removed afterwards.

use std::path::PathBuf;

pub struct TestFile {
    pub path: PathBuf,
}

impl TestFile {
    pub fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite");
        let path = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
        Self { path }
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}
