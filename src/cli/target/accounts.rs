//! Account commands on their target.

use super::{Target, urlencode};
use crate::accounts::AccountChange;
use crate::admin::views::{CreateUserRequest, PasswordRequest, UserView};

impl Target<'_> {
    pub async fn create_user(&self, r: CreateUserRequest) -> anyhow::Result<UserView> {
        Ok(match self {
            Target::Server(s) => s.send("POST", "/v1/users", &r).await?,
            Target::Files(l) => l.accounts().create(&l.actor(), r).await?.into(),
        })
    }

    pub async fn users(&self) -> anyhow::Result<Vec<UserView>> {
        Ok(match self {
            Target::Server(s) => s.get("/v1/users").await?,
            Target::Files(l) => {
                let rows = l.db.read(crate::db::users::list).await?;
                rows.into_iter().map(UserView::from).collect()
            }
        })
    }

    pub async fn change_user(&self, name: &str, change: AccountChange) -> anyhow::Result<()> {
        match self {
            Target::Server(s) => {
                let path = format!("/v1/users/{}", urlencode(name));
                s.send::<_, UserView>("PATCH", &path, &change).await?;
            }
            Target::Files(l) => {
                l.accounts().change(&l.actor(), name, change).await?;
            }
        }
        Ok(())
    }

    pub async fn reset_password(&self, name: &str, password: String) -> anyhow::Result<()> {
        match self {
            Target::Server(s) => {
                let path = format!("/v1/users/{}/password", urlencode(name));
                s.send::<_, ()>("POST", &path, &PasswordRequest { password })
                    .await?;
            }
            Target::Files(l) => {
                let actor = l.actor();
                l.accounts().reset_password(&actor, name, password).await?
            }
        }
        Ok(())
    }
}
