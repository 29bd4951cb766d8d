use super::*;

#[test]
fn the_builders_debug_never_shows_the_password() {
    let builder = PostgresTokenStore::builder("postgres://app:s3cret-pw@db.internal:6432/tokens");
    let debug = format!("{builder:?}");
    assert!(!debug.contains("s3cret-pw"), "{debug}");
    assert!(
        debug.contains("postgres://app@db.internal:6432/tokens"),
        "{debug}"
    );
    assert!(debug.contains("statement_timeout: 5s"), "{debug}");
}

#[test]
fn table_names_are_identifiers_only() {
    assert!(check_table_name("digime_tokens").is_ok());
    assert!(check_table_name("app.tokens_2").is_ok());
    for bad in ["", "1abc", "a;drop table x", "a.b.c", "a-b", "a b"] {
        assert_eq!(
            check_table_name(bad).unwrap_err().field(),
            Some("table"),
            "{bad}"
        );
    }
}

#[test]
fn the_name_never_holds_the_password() {
    let config =
        tokio_postgres::Config::from_str("postgres://app:s3cret@db.internal:5433/tokens").unwrap();
    let name = describe(&config);
    assert_eq!(name, "postgres://app@db.internal:5433/tokens");
}

#[test]
fn the_rotated_list_keeps_the_last_sixteen() {
    // With n fingerprints kept, the appended array has n + 1: the slice
    // starts at n + 2 - 16, so that 16 remain once n reaches 16.
    let sql = PostgresTokenStore::rotated_sql("$5");
    assert!(
        sql.contains("[GREATEST(cardinality(s.rotated) + 2 - 16, 1) : cardinality(s.rotated) + 1]"),
        "{sql}"
    );
}
