//! [`TokenStore`] for [`PostgresTokenStore`]: each store call as SQL.

use super::*;

impl TokenStore for PostgresTokenStore {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        Box::pin(self.run("reading a token", None, async move |client| {
            self.read(client, user).await
        }))
    }

    fn save<'a>(
        &'a self,
        user: &'a str,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, Result<Saved>> {
        let what = "writing a token";
        Box::pin(self.run(what, None, async move |client| {
            let value = self.encode(token)?;
            let fingerprint = refresh_fingerprint(token);
            // A save rotates nothing: `rotated` after it is `rotated` before.
            let sql = format!(
                "INSERT INTO {} AS s (user_key, token, version) VALUES ($1, $2, 1) \
                 ON CONFLICT (user_key) DO UPDATE SET token = EXCLUDED.token, \
                 version = s.version + 1, updated_at = now() \
                 RETURNING s.version, $3 = ANY(s.rotated)",
                self.table
            );
            let row = self
                .query_opt(client, what, &sql, &[&user, &value, &fingerprint])
                .await?
                .ok_or_else(|| self.error("writing a token returned no row"))?;
            Ok(Saved::new(self.version(row.get(0))?, row.get(1)))
        }))
    }

    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseAttempt>> {
        let what = "taking the refresh lease";
        Box::pin(self.run(what, None, async move |client| {
            let fail = |e: tokio_postgres::Error| self.query_error(what, &e);
            // The token, its version, whether the lease was taken and is
            // still held, and for how long (ms).
            let read = format!(
                "SELECT token, version, lease_id IS NOT NULL, \
                 COALESCE(lease_until > now(), false), \
                 GREATEST(0, EXTRACT(EPOCH FROM (lease_until - now())) * 1000)::bigint \
                 FROM {} WHERE user_key = $1",
                self.table
            );
            let held = |row: &Row| -> Result<Option<LeaseAttempt>> {
                if !row.get::<_, bool>(3) {
                    return Ok(None);
                }
                let left = row.get::<_, Option<i64>>(4).unwrap_or(0);
                Ok(Some(LeaseAttempt::Held {
                    current: self.stored(row)?,
                    retry_after: Duration::from_millis(u64::try_from(left).unwrap_or(0)),
                }))
            };
            // A held lease is the common answer while another process
            // refreshes: a read, no lock, no write.
            if let Some(row) = self.query_opt(client, what, &read, &[&user]).await?
                && let Some(attempt) = held(&row)?
            {
                return Ok(attempt);
            }
            // Free or expired: taken in a transaction that locks the row
            // (created if the user has none), so that whether a lease was
            // taken over is known exactly, and committed durably.
            let tx = self.begin(client, what, Commit::Durable).await?;
            tx.execute(
                &format!(
                    "INSERT INTO {} (user_key) VALUES ($1) ON CONFLICT (user_key) DO NOTHING",
                    self.table
                ),
                &[&user],
            )
            .await
            .map_err(fail)?;
            let row = tx
                .query_one(&format!("{read} FOR UPDATE"), &[&user])
                .await
                .map_err(fail)?;
            if let Some(attempt) = held(&row)? {
                tx.commit().await.map_err(fail)?;
                return Ok(attempt);
            }
            let lease = Lease::new(user, ttl)?;
            tx.execute(
                &format!(
                    "UPDATE {} SET lease_id = $2, \
                     lease_until = now() + $3::bigint * interval '1 millisecond' \
                     WHERE user_key = $1",
                    self.table
                ),
                &[&user, &lease.id(), &millis(ttl)],
            )
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            Ok(LeaseAttempt::Acquired {
                lease,
                current: self.stored(&row)?,
                took_over: row.get(2),
            })
        }))
    }

    fn renew_lease<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        let what = "renewing the refresh lease";
        Box::pin(self.run(what, None, async move |client| {
            let fail = |e: tokio_postgres::Error| self.query_error(what, &e);
            let tx = self.begin(client, what, Commit::Lazy).await?;
            let renewed = tx
                .execute(
                    &format!(
                        "UPDATE {} SET lease_until = now() + $3::bigint * interval '1 millisecond' \
                         WHERE user_key = $1 AND lease_id = $2",
                        self.table
                    ),
                    &[&lease.user(), &lease.id(), &millis(ttl)],
                )
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            Ok(renewed == 1)
        }))
    }

    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        expected: u64,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, Result<CommitOutcome>> {
        let what = "writing the refreshed token";
        Box::pin(self.run(what, None, async move |client| {
            let value = self.encode(token)?;
            let expected_sql = i64::try_from(expected)
                .map_err(|_| self.error(format!("version {expected} is out of range")))?;
            let fingerprint = refresh_fingerprint(token);
            let params: [&(dyn ToSql + Sync); 5] = [
                &lease.user(),
                &expected_sql,
                &value,
                &lease.id(),
                &fingerprint,
            ];
            match self
                .query_opt(client, what, &self.commit_sql(expected), &params)
                .await?
            {
                Some(row) => Ok(CommitOutcome::Committed(self.version(row.get(0))?)),
                None => Ok(CommitOutcome::Conflict(
                    self.read(client, lease.user()).await?,
                )),
            }
        }))
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<()>> {
        let what = "releasing the refresh lease";
        Box::pin(self.run(what, None, async move |client| {
            let fail = |e: tokio_postgres::Error| self.query_error(what, &e);
            let tx = self.begin(client, what, Commit::Lazy).await?;
            tx.execute(
                &format!(
                    "UPDATE {} SET lease_id = NULL, lease_until = NULL \
                     WHERE user_key = $1 AND lease_id = $2",
                    self.table
                ),
                &[&lease.user(), &lease.id()],
            )
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)
        }))
    }
}
