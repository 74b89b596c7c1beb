//! The token exchange, use case by use case: a code is redeemed once, by the
//! client it was issued to, with the PKCE verifier of its challenge, before
//! it expires; a replay revokes what it issued.

use std::time::Duration;

use super::{CHALLENGE, Fixture, REDIRECT, Sent, VERIFIER};
use crate::domain::Permission::{CustomiseProfile, SubmitScore};
use crate::service::clients::ClientEdit;
use crate::service::oauth::ExchangeError;

#[tokio::test]
async fn a_code_is_exchanged_for_a_key_of_the_user_with_the_approved_permissions() {
    let f = Fixture::new().await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore, CustomiseProfile], |_| {}).await;
    let code = f.approve(&player, &client, None).await;

    let issued = f.exchange(&client, &code, Sent { redirect_uri: Some(REDIRECT), ..Sent::default() }).await.unwrap();
    assert_eq!(issued.key.user_id, player.id);
    assert_eq!(issued.key.permissions, client.record.permissions);
    assert_eq!(issued.key.client_id.as_deref(), Some(client.id()));
    assert_eq!(issued.key.client_name.as_deref(), Some(client.record.name.as_str()));
    assert_eq!(issued.key.created_at, f.svc.now_ms(), "created at the exchange's moment");

    let caller = f.bearer(&issued.token).await.expect("the key authenticates");
    assert_eq!(caller.user.map(|u| u.id), Some(player.id));
    assert_eq!(caller.permissions, client.record.permissions);
}

#[tokio::test]
async fn a_code_is_refused_to_another_client_and_stays_usable_by_its_own() {
    let f = Fixture::new().await;
    let (author, thief, player) = (f.user("author").await, f.user("thief").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore], |_| {}).await;
    let other = f.client_of(&thief, &[SubmitScore], |_| {}).await;
    let code = f.approve(&player, &client, None).await;

    let refused = f.exchange(&other, &code, Sent::default()).await;
    assert!(matches!(refused, Err(ExchangeError::InvalidCode)), "{refused:?}");
    f.exchange(&client, &code, Sent::default()).await.expect("another client's attempt did not use it up");
}

#[tokio::test]
async fn an_unknown_code_is_invalid() {
    let f = Fixture::new().await;
    let author = f.user("author").await;
    let client = f.client_of(&author, &[SubmitScore], |_| {}).await;
    let refused = f.exchange(&client, "no-such-code", Sent::default()).await;
    assert!(matches!(refused, Err(ExchangeError::InvalidCode)), "{refused:?}");
}

#[tokio::test]
async fn a_code_expires_when_its_lifetime_has_passed_and_not_before() {
    let f = Fixture::with(|s| s.code_lifetime = Duration::from_secs(60)).await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore], |_| {}).await;
    let (in_time, late) = (f.approve(&player, &client, None).await, f.approve(&player, &client, None).await);

    f.advance(Duration::from_millis(59_999));
    f.exchange(&client, &in_time, Sent::default()).await.expect("live for its whole lifetime");
    f.advance(Duration::from_millis(1));
    let refused = f.exchange(&client, &late, Sent::default()).await;
    assert!(matches!(refused, Err(ExchangeError::InvalidCode)), "expired, like an unknown code: {refused:?}");
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_the_key_it_issued() {
    let f = Fixture::new().await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore], |_| {}).await;
    let code = f.approve(&player, &client, None).await;
    let issued = f.exchange(&client, &code, Sent::default()).await.unwrap();
    f.bearer(&issued.token).await.expect("the key works");

    let replay = f.exchange(&client, &code, Sent::default()).await;
    assert!(matches!(replay, Err(ExchangeError::CodeReplayed)), "{replay:?}");
    assert!(f.bearer(&issued.token).await.is_err(), "the key issued from the code is revoked");
    let log = f.log_of(&player).await;
    assert_eq!(log[0], ("API key revoked".into(), "replayed code".into()), "{log:?}");
    // Once more: still a replay, nothing left to revoke.
    let again = f.exchange(&client, &code, Sent::default()).await;
    assert!(matches!(again, Err(ExchangeError::CodeReplayed)), "{again:?}");
}

#[tokio::test]
async fn of_simultaneous_exchanges_of_one_code_one_is_issued_and_the_others_are_replays() {
    let f = Fixture::new().await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore], |_| {}).await;
    let code = f.approve(&player, &client, None).await;
    // On this single-threaded runtime all eight are queued before the batch
    // task runs: the first is batched, the others settled alone after it.
    let attempts = (0..8).map(|_| f.exchange(&client, &code, Sent::default()));
    let outcomes = futures_util::future::join_all(attempts).await;
    let issued: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(issued.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().filter(|o| o.is_err()).all(|o| matches!(o, Err(ExchangeError::CodeReplayed))));
    assert!(f.bearer(&issued[0].token).await.is_err(), "the replays revoked it");
}

#[tokio::test]
async fn a_redirect_uri_the_client_never_registered_is_refused_before_the_code_is_looked_at() {
    let f = Fixture::new().await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore], |_| {}).await;
    let code = f.approve(&player, &client, None).await;
    let elsewhere = Sent { redirect_uri: Some("https://attacker.example/cb"), ..Sent::default() };
    let refused = f.exchange(&client, &code, elsewhere).await;
    assert!(matches!(refused, Err(ExchangeError::RedirectMismatch)), "not the client's URI: {refused:?}");
    f.exchange(&client, &code, Sent::default()).await.expect("refused before the code was looked at");
}

#[tokio::test]
async fn a_pkce_code_needs_its_verifier_and_a_wrong_one_burns_it() {
    let f = Fixture::new().await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore], |_| {}).await;

    let code = f.approve(&player, &client, Some(CHALLENGE)).await;
    let with_verifier = Sent { verifier: Some(VERIFIER), ..Sent::default() };
    f.exchange(&client, &code, with_verifier).await.expect("the verifier of the challenge");

    let code = f.approve(&player, &client, Some(CHALLENGE)).await;
    let missing = f.exchange(&client, &code, Sent::default()).await;
    assert!(matches!(missing, Err(ExchangeError::PkceFailed(m)) if m.contains("required")), "{missing:?}");
    let burnt = f.exchange(&client, &code, with_verifier).await;
    assert!(matches!(burnt, Err(ExchangeError::CodeReplayed)), "a refused code is used up: {burnt:?}");

    let code = f.approve(&player, &client, Some(CHALLENGE)).await;
    let wrong = Sent { verifier: Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"), ..Sent::default() };
    let refused = f.exchange(&client, &code, wrong).await;
    assert!(matches!(refused, Err(ExchangeError::PkceFailed(m)) if m.contains("does not match")), "{refused:?}");

    let code = f.approve(&player, &client, None).await;
    let unasked = f.exchange(&client, &code, with_verifier).await;
    assert!(matches!(unasked, Err(ExchangeError::PkceFailed(m)) if m.contains("no code_challenge")), "{unasked:?}");
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_before_the_code_is_looked_at() {
    let f = Fixture::new().await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let mut client = f.client_of(&author, &[SubmitScore], |_| {}).await;
    let code = f.approve(&player, &client, None).await;
    let right = client.secret.replace(crate::domain::PlainSecret::from_presented("CS-wrong"));
    let refused = f.exchange(&client, &code, Sent::default()).await;
    assert!(matches!(refused, Err(ExchangeError::WrongSecret)), "{refused:?}");
    client.secret = right;
    f.exchange(&client, &code, Sent::default()).await.expect("the code is still live");
}

#[tokio::test]
async fn a_code_is_redeemed_only_with_the_redirect_uri_it_was_sent_to() {
    let f = Fixture::new().await;
    let (author, player) = (f.user("author").await, f.user("player").await);
    let client = f.client_of(&author, &[SubmitScore], |_| {}).await;
    let code = f.approve(&player, &client, None).await;
    // The client moves its redirect URI after the code was sent to the old one.
    let moved = "https://integration.example/new-cb";
    let edit = ClientEdit { redirect_uri: Some(Some(moved.into())), ..ClientEdit::default() };
    f.svc.edit_client(&author.caller, client.id(), edit).await.unwrap();

    let refused = f.exchange(&client, &code, Sent { redirect_uri: Some(moved), ..Sent::default() }).await;
    assert!(matches!(refused, Err(ExchangeError::InvalidCode)), "{refused:?}");
    let burnt = f.exchange(&client, &code, Sent::default()).await;
    assert!(matches!(burnt, Err(ExchangeError::CodeReplayed)), "a refused code is used up: {burnt:?}");
}
