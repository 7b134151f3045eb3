//! Categories and tags: what a valid term is (name, slug generated from the name when
//! absent), made and changed by editors (the callers check the role), each change audited.

use serde::Deserialize;
use utoipa::ToSchema;

use super::Content;
use super::slug::slugify;
use crate::db::taxonomy::{self, Category, Tag, TagScope};
use crate::domain::Error;
use crate::http::json::{non_null, nullable};
use crate::security::audit::Actor;
use crate::validate::Validator;

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 2000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategory {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Generated from the name when absent.
    #[schema(max_length = 100)]
    pub slug: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategory {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, max_length = 100)]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTag {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Generated from the name when absent.
    #[schema(max_length = 100)]
    pub slug: Option<String>,
}

/// The slug of a new term: the one given, or one made from the name; checked either way.
fn new_slug(v: &mut Validator, name: &str, given: Option<&str>) -> String {
    v.text("name", name, MAX_NAME);
    let slug = given.map_or_else(|| slugify(name), str::to_string);
    if given.is_some() || !name.trim().is_empty() {
        v.slug("slug", &slug);
    }
    slug
}

impl Content<'_> {
    pub async fn create_category(
        &self,
        actor: &Actor,
        body: CreateCategory,
    ) -> Result<Category, Error> {
        let mut v = Validator::new();
        let slug = new_slug(&mut v, &body.name, body.slug.as_deref());
        v.optional_text("description", body.description.as_deref(), MAX_DESCRIPTION);
        v.finish()?;
        let (actor, now) = (actor.clone(), self.clock.now());
        Ok(self
            .db
            .write(move |tx| {
                let description = body.description.as_deref();
                taxonomy::insert_category(tx, &slug, &body.name, description, now)?;
                actor.record(
                    tx,
                    "category.create",
                    Some(&format!("category:{slug}")),
                    now,
                )?;
                taxonomy::get_category(tx, &slug, now)
            })
            .await?)
    }

    pub async fn update_category(
        &self,
        actor: &Actor,
        slug: &str,
        body: UpdateCategory,
    ) -> Result<Category, Error> {
        let mut v = Validator::new();
        if let Some(name) = &body.name {
            v.text("name", name, MAX_NAME);
        }
        if let Some(new_slug) = &body.slug {
            v.slug("slug", new_slug);
        }
        let description = body.description.clone().flatten();
        v.optional_text("description", description.as_deref(), MAX_DESCRIPTION);
        v.finish()?;
        let (actor, now, slug) = (actor.clone(), self.clock.now(), slug.to_string());
        Ok(self
            .db
            .write(move |tx| {
                let description = body.description.as_ref().map(|d| d.as_deref());
                let (new_slug, name) = (body.slug.as_deref(), body.name.as_deref());
                let slug = taxonomy::update_category(tx, &slug, new_slug, name, description, now)?;
                actor.record(
                    tx,
                    "category.update",
                    Some(&format!("category:{slug}")),
                    now,
                )?;
                taxonomy::get_category(tx, &slug, now)
            })
            .await?)
    }

    /// Deletes a category; its posts stay, without it.
    pub async fn delete_category(&self, actor: &Actor, slug: &str) -> Result<(), Error> {
        let (actor, now, slug) = (actor.clone(), self.clock.now(), slug.to_string());
        Ok(self
            .db
            .write(move |tx| {
                taxonomy::delete_category(tx, &slug)?;
                actor.record(
                    tx,
                    "category.delete",
                    Some(&format!("category:{slug}")),
                    now,
                )
            })
            .await?)
    }

    /// Makes a tag on purpose: listed even before a public post carries it.
    pub async fn create_tag(&self, actor: &Actor, body: CreateTag) -> Result<Tag, Error> {
        let mut v = Validator::new();
        let slug = new_slug(&mut v, &body.name, body.slug.as_deref());
        v.finish()?;
        let (actor, now) = (actor.clone(), self.clock.now());
        Ok(self
            .db
            .write(move |tx| {
                taxonomy::insert_tag(tx, &slug, &body.name, now)?;
                actor.record(tx, "tag.create", Some(&format!("tag:{slug}")), now)?;
                taxonomy::get_tag(tx, TagScope::All, &slug, now)
            })
            .await?)
    }

    /// Deletes a tag; its posts stay, without it.
    pub async fn delete_tag(&self, actor: &Actor, slug: &str) -> Result<(), Error> {
        let (actor, now, slug) = (actor.clone(), self.clock.now(), slug.to_string());
        Ok(self
            .db
            .write(move |tx| {
                taxonomy::delete_tag(tx, &slug)?;
                actor.record(tx, "tag.delete", Some(&format!("tag:{slug}")), now)
            })
            .await?)
    }
}
