use super::*;

fn desk() -> Desk<u8, u8, &'static str> {
    let limits = Limits {
        lease_polls: 2,
        grace_polls: 2,
        verify_tries: 1,
        commit_tries: 1,
        background_tries: 1,
    };
    Desk::new(Rules::PROTOCOL, limits, true)
}

/// Runs a flight from token 0 (version 1) to a verified token 1, up to
/// its first commit.
fn committing(desk: &mut Desk<u8, u8, &'static str>) {
    desk.step(Event::Need {
        caller: 1,
        seen: Versioned::new(0, 1),
        carry: None,
    });
    desk.step(Event::LeaseTaken {
        current: Some(Versioned::new(0, 1)),
        took_over: false,
    });
    desk.step(Event::Granted(1));
    let actions = desk.step(Event::Verified(1));
    assert!(actions.contains(&Action::Commit {
        expected: 1,
        token: 1
    }));
}

/// A user's token removed from the store during a refresh is not
/// written back (an operator removed it); the caller gets the new token.
#[test]
fn a_token_removed_meanwhile_is_not_written_back() {
    let mut desk = desk();
    committing(&mut desk);
    let actions = desk.step(Event::Conflict(None, "removed"));
    assert!(!actions.iter().any(|a| matches!(a, Action::Commit { .. })));
    assert!(actions.contains(&Action::Reply(
        1,
        Answer::Unstored {
            token: Versioned::new(1, 1),
            error: "removed"
        }
    )));
    assert_eq!(desk.unstored(), Some(&1));
}

/// A token the store did not take keeps the version it was refreshed
/// from: a token saved meanwhile at the next version is newer, and wins.
#[test]
fn an_unstored_token_never_takes_a_version_of_its_own() {
    let mut desk = desk();
    committing(&mut desk);
    desk.step(Event::CommitFailed("down"));
    let actions = desk.step(Event::Timer(1));
    assert!(actions.contains(&Action::Commit {
        expected: 1,
        token: 1
    }));
    let actions = desk.step(Event::CommitFailed("down"));
    assert!(actions.iter().any(|a| matches!(a, Action::KeepLease)));
    // A caller with the old token gets the unstored one, and why.
    let actions = desk.step(Event::Need {
        caller: 2,
        seen: Versioned::new(0, 1),
        carry: None,
    });
    assert_eq!(
        actions,
        vec![Action::Reply(
            2,
            Answer::Unstored {
                token: Versioned::new(1, 1),
                error: "down"
            }
        )]
    );
    // A token saved at version 2 (a reauthorization) is newer.
    desk.step(Event::Observed(Versioned::new(7, 2)));
    assert_eq!(desk.unstored(), None);
    let actions = desk.step(Event::Need {
        caller: 3,
        seen: Versioned::new(1, 1),
        carry: None,
    });
    assert_eq!(
        actions,
        vec![Action::Reply(3, Answer::Token(Versioned::new(7, 2)))]
    );
}
