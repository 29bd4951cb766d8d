// Proves: an account reauthorization without its callback and account id reports both, each once, from the session too.
use digime::UserSession;

async fn run(session: UserSession) {
    let _ = session.reauthorize_account().state("s").send().await;
}

fn main() {}
