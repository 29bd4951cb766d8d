//! The checks themselves, one function each, over a run's context.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::store::{CommitOutcome, Lease, LeaseAttempt, ROTATED_KEPT};
use crate::token::UserAccessToken;

use super::ctx::{Checked, Ctx, LONG, is, refresh, show, show_outcome};

pub(super) async fn versions(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let stored = ctx.load(&user).await?;
    ctx.ensure(stored.is_none(), || {
        format!("load of a user never written answered {}", show(&stored))
    })?;
    let (t1, t2, t3) = (ctx.token(), ctx.token(), ctx.token());
    ctx.expect_save(&user, &t1, 1, false).await?;
    ctx.expect_stored(&user, &t1, 1).await?;
    ctx.expect_save(&user, &t2, 2, false).await?;
    ctx.expect_stored(&user, &t2, 2).await?;
    let (lease, current, _) = ctx.acquired(&user, LONG, "on a free lease").await?;
    ctx.ensure(is(&current, &t2, 2), || {
        format!(
            "acquire_lease answered the stored token {}, expected {} at version 2",
            show(&current),
            refresh(&t2)
        )
    })?;
    ctx.expect_committed(&lease, 2, &t3, "with the lease")
        .await?;
    ctx.expect_stored(&user, &t3, 3).await
}

pub(super) async fn compare_and_set(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let (t1, t2, stale) = (ctx.token(), ctx.token(), ctx.token());
    ctx.expect_save(&user, &t1, 1, false).await?;
    let (lease, _, _) = ctx.acquired(&user, LONG, "on a free lease").await?;
    for wrong in [0, 2, 7] {
        ctx.expect_conflict(&lease, wrong, &stale, &t1, 1, "while version 1 is stored")
            .await?;
    }
    ctx.expect_stored(&user, &t1, 1).await?;
    ctx.expect_committed(&lease, 1, &t2, "with the lease")
        .await?;
    ctx.expect_stored(&user, &t2, 2).await?;
    let (_, _, took_over) = ctx
        .acquired(
            &user,
            LONG,
            "after a commit that landed (it ends the lease)",
        )
        .await?;
    ctx.ensure(!took_over, || {
        "acquire_lease after a commit that landed answered took_over: true".to_owned()
    })?;
    ctx.expect_conflict(&lease, 1, &stale, &t2, 2, "a second time")
        .await?;
    // Version 0 is "nothing stored": it lands on a user never written, once.
    let fresh = ctx.user("fresh");
    let (n1, n2) = (ctx.token(), ctx.token());
    let lease = ctx.lease(&fresh, LONG)?;
    ctx.expect_committed(&lease, 0, &n1, "on a user never written")
        .await?;
    ctx.expect_stored(&fresh, &n1, 1).await?;
    ctx.expect_conflict(&lease, 0, &n2, &n1, 1, "on a user with a token")
        .await
}

pub(super) async fn commit_without_lease(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let (t1, late, loser, t3, t4) = (
        ctx.token(),
        ctx.token(),
        ctx.token(),
        ctx.token(),
        ctx.token(),
    );
    ctx.expect_save(&user, &t1, 1, false).await?;
    let asked = Instant::now();
    let (first, _, _) = ctx.acquired(&user, ctx.ttl, "on a free lease").await?;
    ctx.past_ttl(asked).await;
    let (second, _, _) = ctx
        .acquired(&user, LONG, "once the first lease ran out")
        .await?;
    // The first holder, late, still lands: nothing moved since it read.
    ctx.expect_committed(&first, 1, &late, "with a lease taken over")
        .await?;
    ctx.held(&user, "after a late commit (the new holder's lease stays)")
        .await?;
    // The new holder read version 1 too: it conflicts with the late token.
    ctx.expect_conflict(&second, 1, &loser, &late, 2, "after the late commit")
        .await?;
    // A lease never acquired commits like any other.
    let never = ctx.lease(&user, LONG)?;
    ctx.expect_committed(&never, 2, &t3, "with a lease never acquired")
        .await?;
    ctx.expect_conflict(&never, 2, &t4, &t3, 3, "with a lease never acquired")
        .await?;
    ctx.expect_stored(&user, &t3, 3).await?;
    ctx.release(&second).await
}

pub(super) async fn already_rotated(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let first = ctx.token();
    ctx.expect_save(&user, &first, 1, false).await?;
    // ROTATED_KEPT refreshes, each committed under its lease: `first` is
    // the oldest refresh token the store must remember.
    let mut version = 1;
    for _ in 0..ROTATED_KEPT {
        let next = ctx.token();
        let (lease, _, _) = ctx.acquired(&user, LONG, "between refreshes").await?;
        ctx.expect_committed(&lease, version, &next, "of a refresh")
            .await?;
        version += 1;
    }
    ctx.expect_save(&user, &first, version + 1, true).await?;
    let new = ctx.token();
    ctx.expect_save(&user, &new, version + 2, false).await
}

pub(super) async fn lease_exclusive(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let t1 = ctx.token();
    ctx.expect_save(&user, &t1, 1, false).await?;
    let (lease, current, took_over) = ctx.acquired(&user, LONG, "on a free lease").await?;
    ctx.ensure(is(&current, &t1, 1) && !took_over, || {
        format!(
            "acquire_lease on a free lease answered {} (took_over: {took_over}), expected {} at \
             version 1 (took_over: false)",
            show(&current),
            refresh(&t1)
        )
    })?;
    for _ in 0..2 {
        let (current, retry_after) = ctx.held(&user, "while the lease is held").await?;
        ctx.ensure(is(&current, &t1, 1), || {
            format!(
                "acquire_lease answered Held with {}, expected {} at version 1",
                show(&current),
                refresh(&t1)
            )
        })?;
        ctx.ensure(retry_after <= LONG + Duration::from_secs(1), || {
            format!("retry_after is {retry_after:?}, longer than the lease's {LONG:?}")
        })?;
    }
    // A user with no token has a lease too.
    let fresh = ctx.user("fresh");
    let (other, current, _) = ctx
        .acquired(&fresh, LONG, "on a user never written")
        .await?;
    ctx.ensure(current.is_none(), || {
        format!(
            "acquire_lease on a user never written answered the token {}",
            show(&current)
        )
    })?;
    ctx.held(&fresh, "while the lease on a user without a token is held")
        .await?;
    ctx.release(&other).await?;
    ctx.release(&lease).await
}

pub(super) async fn release(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let (first, _, _) = ctx.acquired(&user, LONG, "on a free lease").await?;
    ctx.release(&first).await?;
    let (second, _, took_over) = ctx.acquired(&user, LONG, "after a release").await?;
    ctx.ensure(!took_over, || {
        "acquire_lease after a release answered took_over: true".to_owned()
    })?;
    // The first lease is over: giving it back again ends nothing, and it
    // cannot be renewed.
    ctx.release(&first).await?;
    ctx.held(&user, "after a second release of a lease already released")
        .await?;
    let renewed = ctx.renew(&first, LONG).await?;
    ctx.ensure(!renewed, || {
        "renew_lease of a released lease answered true".to_owned()
    })?;
    ctx.release(&second).await?;
    // A lease released, then past its time: still no takeover.
    let asked = Instant::now();
    let (short, _, _) = ctx.acquired(&user, ctx.ttl, "after a release").await?;
    ctx.release(&short).await?;
    ctx.past_ttl(asked).await;
    let (last, _, took_over) = ctx
        .acquired(&user, LONG, "once a released lease's time passed")
        .await?;
    ctx.ensure(!took_over, || {
        "acquire_lease after a released lease's time passed answered took_over: true".to_owned()
    })?;
    ctx.release(&last).await
}

pub(super) async fn expiry_and_takeover(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let asked = Instant::now();
    let (_, _, took_over) = ctx.acquired(&user, ctx.ttl, "on a new user").await?;
    ctx.ensure(!took_over, || {
        "acquire_lease on a user never leased answered took_over: true".to_owned()
    })?;
    ctx.past_ttl(asked).await;
    let (lease, _, took_over) = ctx
        .acquired(&user, LONG, "once a lease not given back ran out")
        .await?;
    ctx.ensure(took_over, || {
        "acquire_lease once a lease not given back ran out answered took_over: false".to_owned()
    })?;
    let token = ctx.token();
    ctx.expect_committed(&lease, 0, &token, "by the new holder")
        .await?;
    let (lease, _, took_over) = ctx.acquired(&user, LONG, "after a commit").await?;
    ctx.ensure(!took_over, || {
        "acquire_lease after a commit answered took_over: true".to_owned()
    })?;
    ctx.release(&lease).await
}

pub(super) async fn renewal(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let ttl = ctx.ttl;
    let asked = Instant::now();
    let (first, _, _) = ctx.acquired(&user, ttl, "on a free lease").await?;
    tokio::time::sleep_until((asked + ttl / 2).into()).await;
    let renewing = Instant::now();
    let renewed = ctx.renew(&first, ttl).await?;
    ctx.ensure(renewed, || {
        "renew_lease of a lease held answered false".to_owned()
    })?;
    // Past the first time to live, within the renewed one.
    let past_first = (asked + ttl).max(Instant::now()) + ttl / 8;
    tokio::time::sleep_until(past_first.into()).await;
    let attempt = ctx.acquire(&user, LONG).await?;
    let answered = Instant::now();
    match attempt {
        LeaseAttempt::Held { .. } => {}
        LeaseAttempt::Acquired { .. } if answered >= renewing + ttl => {
            return Err(ctx.violation(format!(
                "the store answers too slowly to judge a renewal on leases of {ttl:?}: \
                 run the kit with a longer lease_ttl"
            )));
        }
        LeaseAttempt::Acquired { took_over, .. } => {
            return Err(ctx.violation(format!(
                "acquire_lease past the first time to live of a renewed lease answered Acquired \
                 (took_over: {took_over}): the renewal did not extend it"
            )));
        }
    }
    // Renewed no more, it runs out.
    ctx.past_ttl(answered).await;
    let (second, _, took_over) = ctx
        .acquired(&user, LONG, "once the renewed lease ran out")
        .await?;
    ctx.ensure(took_over, || {
        "acquire_lease once a renewed lease ran out answered took_over: false".to_owned()
    })?;
    let renewed = ctx.renew(&first, ttl).await?;
    ctx.ensure(!renewed, || {
        "renew_lease of a lease taken over answered true".to_owned()
    })?;
    let renewed = ctx.renew(&second, LONG).await?;
    ctx.ensure(renewed, || {
        "renew_lease of a lease held answered false".to_owned()
    })?;
    let token = ctx.token();
    ctx.expect_committed(&second, 0, &token, "by the new holder")
        .await?;
    let renewed = ctx.renew(&second, LONG).await?;
    ctx.ensure(!renewed, || {
        "renew_lease of a lease a commit ended answered true".to_owned()
    })
}

pub(super) async fn concurrent_writes(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let t0 = ctx.token();
    ctx.expect_save(&user, &t0, 1, false).await?;
    let tokens: Vec<UserAccessToken> = (0..ctx.tasks).map(|_| ctx.token()).collect();
    let leases = tokens
        .iter()
        .map(|_| ctx.lease(&user, LONG))
        .collect::<Checked<Vec<Lease>>>()?;
    let outcomes = join_all(
        leases
            .iter()
            .zip(&tokens)
            .map(|(lease, token)| ctx.commit(lease, 1, token)),
    )
    .await
    .into_iter()
    .collect::<Checked<Vec<CommitOutcome>>>()?;
    let landed: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, CommitOutcome::Committed(_)))
        .map(|(i, _)| i)
        .collect();
    let [winner] = landed[..] else {
        return Err(ctx.violation(format!(
            "{} racing commits on version 1 landed {} times, expected exactly once ({})",
            ctx.tasks,
            landed.len(),
            outcomes
                .iter()
                .map(show_outcome)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    for (i, outcome) in outcomes.iter().enumerate() {
        let ok = match outcome {
            CommitOutcome::Committed(v) => *v == 2,
            CommitOutcome::Conflict(stored) => i != winner && is(stored, &tokens[winner], 2),
        };
        ctx.ensure(ok, || {
            format!(
                "of {} racing commits on version 1, {} landed; another answered {}, expected \
                 Committed(2) for it and a Conflict with it at version 2 for the others",
                ctx.tasks,
                refresh(&tokens[winner]),
                show_outcome(outcome)
            )
        })?;
    }
    ctx.expect_stored(&user, &tokens[winner], 2).await?;
    racing_saves(ctx, &user).await
}

/// Racing saves on version 2 each write a version of their own, and the
/// highest is what `load` answers.
async fn racing_saves(ctx: &mut Ctx<'_>, user: &str) -> Checked {
    let saves: Vec<UserAccessToken> = (0..ctx.tasks).map(|_| ctx.token()).collect();
    let saved = join_all(saves.iter().map(|token| ctx.save(user, token)))
        .await
        .into_iter()
        .collect::<Checked<Vec<_>>>()?;
    let mut versions: Vec<u64> = saved.iter().map(|s| s.version).collect();
    versions.sort_unstable();
    let expected: Vec<u64> = (3..3 + ctx.tasks as u64).collect();
    ctx.ensure(versions == expected, || {
        format!(
            "{} racing saves on version 2 answered versions {versions:?}, expected {expected:?}",
            ctx.tasks
        )
    })?;
    let last = ctx.load(user).await?;
    let newest = saved
        .iter()
        .position(|s| s.version == 2 + ctx.tasks as u64)
        .map(|i| &saves[i]);
    ctx.ensure(
        newest.is_some_and(|t| is(&last, t, 2 + ctx.tasks as u64)),
        || {
            format!(
                "after {} racing saves, load answered {}, expected the save of the highest version",
                ctx.tasks,
                show(&last)
            )
        },
    )
}

pub(super) async fn concurrent_leases(ctx: &mut Ctx<'_>) -> Checked {
    let ttl = ctx.ttl;
    let fresh = ctx.user("fresh");
    let asked = Instant::now();
    // The winner's lease is left to run out.
    race_for_lease(ctx, &fresh, ttl, "on a user the store never saw").await?;
    // The same race once that lease ran out: one takes it over.
    ctx.past_ttl(asked).await;
    let (won, took_over) = race_for_lease(ctx, &fresh, LONG, "on an expired lease").await?;
    ctx.ensure(took_over, || {
        "the winner of a race for an expired lease was told took_over: false".to_owned()
    })?;
    ctx.release(&won).await
}

/// `ctx.tasks` racing `acquire_lease` calls on `user`: exactly one must win.
/// The winner's lease and `took_over`.
pub(super) async fn race_for_lease(
    ctx: &Ctx<'_>,
    user: &str,
    ttl: Duration,
    when: &str,
) -> Checked<(Lease, bool)> {
    let attempts = join_all((0..ctx.tasks).map(|_| ctx.acquire(user, ttl)))
        .await
        .into_iter()
        .collect::<Checked<Vec<LeaseAttempt>>>()?;
    let mut winners = Vec::new();
    for attempt in attempts {
        if let LeaseAttempt::Acquired {
            lease, took_over, ..
        } = attempt
        {
            winners.push((lease, took_over));
        }
    }
    let count = winners.len();
    match winners.pop() {
        Some(winner) if count == 1 => Ok(winner),
        _ => Err(ctx.violation(format!(
            "{} racing acquire_lease calls {when} gave the lease {count} times, expected exactly \
             once",
            ctx.tasks
        ))),
    }
}
