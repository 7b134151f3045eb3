//! The last-admin guard: somebody must always be able to administer the site. One rule for
//! every change that can take admin rights away (a role change, deactivation, erasure),
//! checked inside the change's own transaction so two concurrent demotions cannot both pass.

use rusqlite::Connection;

use crate::auth::Role;
use crate::db::users::{self, UserRow};
use crate::domain::Error;

/// Refuses the change when `target` is an active admin, would not stay one
/// (`keeps_admin = false`), and no other active admin exists.
pub fn guard_last_admin(
    conn: &Connection,
    target: &UserRow,
    keeps_admin: bool,
) -> Result<(), Error> {
    let loses_admin = target.role == Role::Admin && target.active && !keeps_admin;
    if loses_admin && users::other_active_admins(conn, target.id)? == 0 {
        return Err(Error::LastAdmin);
    }
    Ok(())
}
