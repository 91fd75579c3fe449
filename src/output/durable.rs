//! Files replaced whole or not at all: profiles, reports, a batch's
//! results and `calls.csv`.
//!
//! The bytes go to a temporary file of a unique name beside the target
//! (`tempfile`: two writers never share one), which is synced, renamed over
//! the target and the directory synced: a crash or a full disk leaves the
//! old file or the new one, never a torn or empty one. A symlink is
//! followed (its target is replaced, the link kept), an existing file's
//! permissions are kept (a new one gets 0644), and a read-only target is
//! refused rather than replaced.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` (see the module docs).
///
/// # Errors
/// A read-only target, or the file system's.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (target, existing) = replaceable(path)?;
    let name = target
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir_of(&target))?;
    tmp.write_all(bytes)?;
    replace(tmp, &target, existing)
}

/// Puts a temporary file written in full in `path`'s place (see the
/// module docs): for output written as it is made, in a temporary file of
/// the same folder.
///
/// # Errors
/// A read-only target, or the file system's (a temporary file on another
/// file system than the target cannot be renamed).
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> io::Result<()> {
    let (target, existing) = replaceable(path)?;
    replace(tmp, &target, existing)
}

/// Renames `tmp` over `target` (symlinks already followed), with the
/// permissions of the file it replaces, and makes it durable.
fn replace(
    tmp: tempfile::NamedTempFile,
    target: &Path,
    existing: Option<fs::Metadata>,
) -> io::Result<()> {
    if let Some(permissions) = existing
        .map(|m| m.permissions())
        .or_else(new_file_permissions)
    {
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    // The rename is durable once the directory is.
    File::open(dir_of(target))?.sync_all()
}

/// The folder a file is in (`.` for a bare name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks, before a long job, that `path` could be written by [`write()`]:
/// its directory exists and it is not a read-only file.
///
/// # Errors
/// Why it could not.
pub fn check_writable(path: &Path) -> io::Result<()> {
    let (target, _) = replaceable(path)?;
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no folder {}", d.display()),
        )),
        _ => Ok(()),
    }
}

/// The file `path` stands for (symlinks followed) and its metadata when
/// it exists; a read-only file is refused.
fn replaceable(path: &Path) -> io::Result<(PathBuf, Option<fs::Metadata>)> {
    let target = follow_links(path)?;
    let existing = fs::metadata(&target).ok();
    if existing
        .as_ref()
        .is_some_and(|m| m.permissions().readonly())
    {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is read-only",
        ));
    }
    Ok((target, existing))
}

/// `path`, or what its chain of symlinks points at.
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

#[cfg(unix)]
fn new_file_permissions() -> Option<fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(fs::Permissions::from_mode(0o644))
}

/// Elsewhere the temporary file's own.
#[cfg(not(unix))]
fn new_file_permissions() -> Option<fs::Permissions> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn mode_and_symlinks_are_kept_and_read_only_is_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let d = scratch.path();
        let f = d.join("sam.toml");
        write(&f, b"one").unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o644
        );
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        write(&f, b"two").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let link = d.join("link.toml");
        symlink("sam.toml", &link).unwrap();
        write(&link, b"three").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&f).unwrap(), b"three");

        fs::set_permissions(&f, fs::Permissions::from_mode(0o444)).unwrap();
        let err = write(&f, b"four").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(fs::read(&f).unwrap(), b"three");
        assert!(check_writable(&f).is_err());
        assert!(check_writable(&d.join("no/such/folder.toml")).is_err());
        assert!(check_writable(&d.join("new.toml")).is_ok());
        // Nothing is left beside the file but the file and the link.
        let mut names: Vec<_> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["link.toml", "sam.toml"]);
    }
}
