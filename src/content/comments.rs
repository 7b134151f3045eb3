//! Comments: who may write one (anyone who can see the post; anonymous writers give a name
//! and an address), that it waits as `pending`, moderation, and the audit record of each.

use serde::Deserialize;
use utoipa::ToSchema;

use super::Content;
use super::access::can_view;
use crate::auth::Caller;
use crate::db::comments::{self, Comment, CommentStatus, NewComment};
use crate::db::{posts, users};
use crate::domain::Error;
use crate::security::audit::Actor;
use crate::validate::Validator;

const MAX_BODY: usize = 5000;
const MAX_NAME: usize = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    /// Required when not signed in; defaults to the user's display name.
    #[schema(min_length = 1, max_length = 100)]
    pub author_name: Option<String>,
    /// Required when not signed in; never shown publicly.
    #[schema(max_length = 254)]
    pub author_email: Option<String>,
    /// Plain text.
    #[schema(min_length = 1, max_length = 5000)]
    pub body: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerateComment {
    pub status: CommentStatus,
}

impl Content<'_> {
    /// A comment on the post `slug` by `caller` (a visitor, or a signed-in user): waits as
    /// `pending`. A post the caller cannot see answers as if it did not exist.
    pub async fn create_comment(
        &self,
        actor: &Actor,
        caller: &Caller,
        slug: &str,
        body: CreateComment,
    ) -> Result<Comment, Error> {
        let mut v = Validator::new();
        v.text("body", &body.body, MAX_BODY);
        let anonymous = matches!(caller, Caller::Anonymous);
        match &body.author_name {
            Some(name) => v.text("author_name", name, MAX_NAME),
            None if anonymous => v.add("author_name", "This field is required"),
            None => {}
        }
        match &body.author_email {
            Some(email) => v.email("author_email", email),
            None if anonymous => v.add("author_email", "This field is required"),
            None => {}
        }
        v.finish()?;
        let now = self.clock.now();
        let (actor, writer, slug) = (actor.clone(), caller.clone(), slug.to_string());
        self.db
            .transact(move |tx| -> Result<_, Error> {
                let post = posts::get(tx, &slug, now)?;
                if !can_view(&writer, post.author_id, post.status) {
                    return Err(Error::Hidden);
                }
                let user = match writer.user_id() {
                    Some(id) => Some(users::by_id(tx, id)?),
                    None => None,
                };
                let name = body
                    .author_name
                    .clone()
                    .or_else(|| user.as_ref().map(|u| u.display_name.clone()))
                    .unwrap_or_default();
                let email = body
                    .author_email
                    .clone()
                    .or_else(|| user.as_ref().map(|u| u.email.clone()));
                let new = NewComment {
                    post_id: post.id,
                    user_id: user.as_ref().map(|u| u.id),
                    author_name: &name,
                    author_email: email.as_deref(),
                    body: &body.body,
                };
                let id = comments::insert(tx, &new, now)?;
                actor.record(tx, "comment.create", Some(&format!("comment:{id}")), now)?;
                Ok(comments::get(tx, id)?)
            })
            .await
    }

    /// Sets a comment's moderation status (editors: the caller checks the role).
    pub async fn moderate_comment(
        &self,
        actor: &Actor,
        id: i64,
        status: CommentStatus,
    ) -> Result<Comment, Error> {
        let (actor, now) = (actor.clone(), self.clock.now());
        Ok(self
            .db
            .write(move |tx| {
                comments::set_status(tx, id, status, now)?;
                actor.record(tx, "comment.update", Some(&format!("comment:{id}")), now)?;
                comments::get(tx, id)
            })
            .await?)
    }

    /// Deletes a comment (editors: the caller checks the role).
    pub async fn delete_comment(&self, actor: &Actor, id: i64) -> Result<(), Error> {
        let (actor, now) = (actor.clone(), self.clock.now());
        Ok(self
            .db
            .write(move |tx| {
                comments::delete(tx, id)?;
                actor.record(tx, "comment.delete", Some(&format!("comment:{id}")), now)
            })
            .await?)
    }
}
