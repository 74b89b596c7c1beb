//! Clients and keys: the cap on a user's clients, the Client File Flow's
//! replacement of the previous key, revocation, and sessions ending on time.

use std::time::Duration;

use super::Fixture;
use crate::domain::Permission::{CustomiseScore, SubmitScore};
use crate::domain::PermissionSet;
use crate::service::ServiceError;
use crate::service::keys::KeyRequest;

#[tokio::test]
async fn a_user_owns_at_most_the_cap_of_clients_and_an_admin_is_not_capped() {
    let f = Fixture::with(|s| s.client_cap = 2).await;
    let author = f.user("author").await;
    for _ in 0..2 {
        f.create_client(&author, &[SubmitScore], |_| {}).await.expect("under the cap");
    }
    let refused = f.create_client(&author, &[SubmitScore], |_| {}).await;
    assert!(matches!(&refused, Err(ServiceError::Invalid(m)) if m.contains("maximum of 2")), "{refused:?}");

    let mine = f.svc.my_clients(&author.caller).await.unwrap();
    f.svc.delete_client(&author.caller, &mine[0].client_id).await.unwrap();
    f.create_client(&author, &[SubmitScore], |_| {}).await.expect("a deleted client frees its place");

    let mut admin = f.user("admin").await;
    admin.caller.user.as_mut().unwrap().is_admin = true;
    for _ in 0..3 {
        f.create_client(&admin, &[SubmitScore], |_| {}).await.expect("admins are not capped");
    }
}

#[tokio::test]
async fn the_client_file_flow_issues_a_key_with_the_client_s_permissions_and_replaces_the_previous_one() {
    let f = Fixture::new().await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore, CustomiseScore], |_| {}).await;
    let ask = || KeyRequest::ForClient { client_id: client.id().to_owned() };

    let first = f.svc.create_key(&player.caller, player.id, ask()).await.unwrap();
    assert_eq!(first.key.permissions, client.record.permissions);
    assert_eq!(first.client.as_ref().map(|(_, replaced)| *replaced), Some(0));
    f.bearer(&first.token).await.expect("the key works");

    let second = f.svc.create_key(&player.caller, player.id, ask()).await.unwrap();
    assert_eq!(second.client.as_ref().map(|(_, replaced)| *replaced), Some(1), "the previous key was replaced");
    assert!(f.bearer(&first.token).await.is_err(), "the previous key no longer works");
    f.bearer(&second.token).await.expect("the new one does");

    let other = f.user("other").await;
    let refused = f.svc.create_key(&other.caller, player.id, ask()).await;
    assert!(refused.is_err(), "only for oneself: {refused:?}");
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once_and_only_its_owner_may_revoke_it() {
    let f = Fixture::new().await;
    let (player, other) = (f.user("player").await, f.user("other").await);
    let personal = KeyRequest::Personal { permissions: PermissionSet::default().with(SubmitScore), identifier: None };
    let issued = f.svc.create_key(&player.caller, player.id, personal).await.unwrap();
    f.bearer(&issued.token).await.expect("the key works (and is now cached)");

    let refused = f.svc.revoke_key(&other.caller, player.id, &issued.key.id).await;
    assert!(refused.is_err(), "{refused:?}");
    f.bearer(&issued.token).await.expect("still works");

    f.svc.revoke_key(&player.caller, player.id, &issued.key.id).await.unwrap();
    let after = f.bearer(&issued.token).await;
    assert!(matches!(after, Err(ServiceError::InvalidToken(_))), "{after:?}");
    let again = f.svc.revoke_key(&player.caller, player.id, &issued.key.id).await;
    assert!(matches!(again, Err(ServiceError::NotFound(_))), "{again:?}");
}

#[tokio::test]
async fn a_session_ends_when_its_lifetime_has_passed() {
    let f = Fixture::with(|s| s.session_lifetime = Duration::from_secs(3600)).await;
    let player = f.user("player").await;
    f.advance(Duration::from_secs(3599));
    assert!(f.caller(&player.cookie).await.is_some(), "live for its whole lifetime (and now cached)");
    f.advance(Duration::from_secs(1));
    assert!(f.caller(&player.cookie).await.is_none(), "ended, cached or not");
}
