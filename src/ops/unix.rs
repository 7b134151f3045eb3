//! The few operating-system facts blogd asks for: who this process runs as, and the names
//! and groups of local users (for the admin socket's access check and for audit records of
//! operators).

/// This process's effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The login name of `uid`, when the user database knows it.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to fill in.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the duration of the call and `buf` is as long as
    // we say; on success `result` points at `pwd`, whose strings live in `buf`.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name is a NUL-terminated string inside `buf`, which is still alive.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// Every group `uid` belongs to: its primary group and its supplementary groups (an
/// operator added with `usermod -aG blogd alice` is in the second list).
pub fn groups_of(uid: u32, primary_gid: u32) -> Vec<u32> {
    let mut groups = vec![primary_gid];
    let Some(name) = user_name(uid) else {
        return groups;
    };
    let Ok(cname) = std::ffi::CString::new(name) else {
        return groups;
    };
    let mut count: libc::c_int = 64;
    loop {
        let mut list = vec![0 as libc::gid_t; count as usize];
        let asked = count;
        // SAFETY: `list` has room for `count` entries, and getgrouplist writes at most that
        // many (it reports the number needed when there is not enough room).
        let rc = unsafe {
            libc::getgrouplist(cname.as_ptr(), primary_gid, list.as_mut_ptr(), &mut count)
        };
        if rc >= 0 {
            list.truncate(count.max(0) as usize);
            groups.extend(list);
            groups.sort_unstable();
            groups.dedup();
            return groups;
        }
        if count <= asked {
            count = asked * 2;
        }
        if count > 65_536 {
            return groups;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_known_by_name_and_is_in_its_group() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert!(groups_of(0, 0).contains(&0));
        assert_eq!(user_name(4_000_000_000), None);
    }
}
