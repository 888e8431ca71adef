//! What a request may do, decided from the principal the HTTP edge attached: every root field
//! of `Query` needs a role that reads, every root field of `Mutation` one that writes, and for a
//! token bound to a user the log holds that user's events only: other users' events, users and
//! timelines do not exist for it, and views over every user are `FORBIDDEN`. A request without a principal may do
//! nothing (`FORBIDDEN`), so a path that forgets to attach one fails closed.

use async_graphql::extensions::{ExtensionContext, ResolveInfo};
use async_graphql::{Context, ErrorExtensions, ServerResult};

use crate::auth::Principal;
use crate::store::EventFilter;

/// The role may not do this.
pub const FORBIDDEN: &str = "FORBIDDEN";

/// A `FORBIDDEN` error.
pub fn forbidden(message: &str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", FORBIDDEN))
}

fn principal_of(principal: Option<&Principal>) -> async_graphql::Result<&Principal> {
    principal.ok_or_else(|| forbidden("the request carries no principal"))
}

/// The principal, when it may read.
pub fn require_read<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    let principal = principal_of(ctx.data_opt::<Principal>())?;
    if !principal.may_read() {
        return Err(forbidden("this token's role may not read events"));
    }
    Ok(principal)
}

/// Refuses a token bound to one user a view over every user.
pub fn require_everything(ctx: &Context<'_>, what: &str) -> async_graphql::Result<()> {
    if !require_read(ctx)?.reads_everything() {
        return Err(forbidden(&format!(
            "a self token cannot read {what}: it spans every user"
        )));
    }
    Ok(())
}

/// Whether the events of `user_id` exist for the principal: for a token bound to another user
/// they do not (see [`Principal::visible_users`]).
pub fn sees_user(ctx: &Context<'_>, user_id: uuid::Uuid) -> async_graphql::Result<bool> {
    Ok(require_read(ctx)?.sees_user(user_id))
}

/// Narrows `filter` to the users the principal sees: for a token bound to a user, its own
/// user, or nobody when the filter asks for other users only.
pub fn scope(ctx: &Context<'_>, filter: &mut EventFilter) -> async_graphql::Result<()> {
    let principal = require_read(ctx)?;
    filter.user_ids = principal.visible_users(filter.user_ids.take());
    Ok(())
}

/// The name of the mutation root type.
const MUTATION_ROOT: &str = "Mutation";

/// Checks a root field of a query or mutation against the principal's role; with
/// `introspection: false`, refuses `__schema` and `__type`. Called for every field the engine
/// resolves ([`super::pipeline`]); fields below the root pass at once.
pub fn check_field(
    ctx: &ExtensionContext<'_>,
    info: &ResolveInfo<'_>,
    introspection: bool,
) -> ServerResult<()> {
    if info.path_node.parent.is_some() {
        return Ok(());
    }
    check_root(ctx, info.name, info.parent_type, introspection)
        .map_err(|e| e.into_server_error(info.field.name.pos))
}

/// Checks the root field `name` of the root type `parent_type` against the principal's role
/// (the rule of [`check_field`], also asked by the direct path before it answers).
pub fn check_root(
    ctx: &ExtensionContext<'_>,
    name: &str,
    parent_type: &str,
    introspection: bool,
) -> async_graphql::Result<()> {
    if !introspection && (name == "__schema" || name == "__type") {
        return Err(forbidden("introspection is switched off on this server"));
    }
    if !name.starts_with("__") {
        let principal = principal_of(ctx.data_opt::<Principal>())?;
        // A socket keeps the principal it was opened with: its token is checked again on
        // every operation.
        if let (Some(name), Some(live)) = (&principal.token, ctx.data_opt::<crate::live::Live>())
            && live.is_revoked(name)
        {
            return Err(async_graphql::Error::new("the token was revoked")
                .extend_with(|_, e| e.set("code", "UNAUTHENTICATED")));
        }
        let mutation = parent_type == MUTATION_ROOT;
        let allowed = if mutation {
            principal.may_write()
        } else {
            principal.may_read()
        };
        if !allowed {
            let message = if mutation {
                "this token's role may not record events"
            } else {
                "this token's role may not read events"
            };
            return Err(forbidden(message));
        }
    }
    Ok(())
}
