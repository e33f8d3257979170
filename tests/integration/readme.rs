//! Every SQL example of the README runs as written (issue 16 §5): the ```sql blocks, in the
//! README's order, in one psql session on a fresh database (the first block creates the
//! extension), as a new user would paste them. A block may use what earlier ones made. A block
//! that cannot run here is marked in the README with `<!-- not run: why -->` just before it.

use crate::common::TestDb;
use postgres::{Client, NoTls};
use std::process::{Command, Stdio};

struct Block {
    /// Line of the opening fence (1-based).
    line: usize,
    section: String,
    sql: String,
    not_run: Option<String>,
}

/// The README's ```sql blocks, in order, with the heading each is under.
fn sql_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut not_run: Option<String> = None;
    let mut lines = readme.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let t = line.trim();
        if let Some(lang) = t.strip_prefix("```") {
            // The whole fenced block, whatever its language: a `#` inside is not a heading.
            let mut body = String::new();
            for (_, l) in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            if lang.trim() == "sql" {
                blocks.push(Block { line: i + 1, section: section.clone(), sql: body, not_run: not_run.take() });
            }
            not_run = None;
        } else if let Some(reason) = t.strip_prefix("<!-- not run:") {
            not_run = Some(reason.trim_end_matches("-->").trim().to_owned());
        } else if t.starts_with('#') {
            section = t.trim_start_matches('#').trim().to_owned();
            not_run = None;
        } else if !t.is_empty() {
            // A marker holds only for the block right after it.
            not_run = None;
        }
    }
    blocks
}

/// Roles the examples create: they are cluster-wide, so a run drops what an earlier run left.
fn created_roles(blocks: &[Block]) -> Vec<String> {
    let mut roles = Vec::new();
    for b in blocks.iter().filter(|b| b.not_run.is_none()) {
        let mut words = b.sql.split(|c: char| c.is_whitespace() || c == ';').filter(|w| !w.is_empty()).peekable();
        while let Some(w) = words.next() {
            if w.eq_ignore_ascii_case("create") && words.peek().is_some_and(|n| n.eq_ignore_ascii_case("role")) {
                words.next();
                if let Some(name) = words.next() {
                    roles.push(name.trim_matches('"').to_owned());
                }
            }
        }
    }
    roles
}

fn drop_roles(admin: &mut Client, roles: &[String]) {
    for r in roles {
        admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{r}\"")).unwrap();
    }
}

#[test]
fn every_sql_example_of_the_readme_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = sql_blocks(&readme);
    assert_eq!(blocks.len(), readme.lines().filter(|l| l.trim() == "```sql").count());
    assert!(blocks.len() >= 15, "only {} sql blocks found in the README", blocks.len());
    let skipped: Vec<_> = blocks.iter().filter_map(|b| b.not_run.as_ref().map(|why| (b.line, why))).collect();
    assert!(skipped.len() * 5 <= blocks.len(), "too many README examples are not run: {skipped:?}");

    let roles = created_roles(&blocks);
    let mut admin = crate::common::config("postgres").connect(NoTls).unwrap();
    drop_roles(&mut admin, &roles);
    let db = TestDb::without_extension("readme");

    // One session, as a reader pasting the examples into psql; a marker before each block tells
    // which one failed.
    let mut script = String::from("\\set ON_ERROR_STOP 1\n");
    for (n, b) in blocks.iter().enumerate().filter(|(_, b)| b.not_run.is_none()) {
        script.push_str(&format!(
            "\\echo 'README block {n}: line {}, section \"{}\"'\n",
            b.line,
            b.section.replace('\'', "")
        ));
        script.push_str(&b.sql);
    }
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run through scripts/test"));
    let mut psql = Command::new(format!("{}/psql", var("QUEUE_EXT_TEST_PGBIN")))
        .args(["-X", "-q", "-P", "pager=off", "-f", "-"])
        .args(["-h", &var("QUEUE_EXT_TEST_HOST"), "-p", &var("QUEUE_EXT_TEST_PORT"), "-U", "postgres", "-d", &db.name])
        .env("PGOPTIONS", "-c statement_timeout=120s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql");
    {
        use std::io::Write;
        let mut stdin = psql.stdin.take().unwrap();
        stdin.write_all(script.as_bytes()).unwrap();
    }
    let out = psql.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().filter(|l| l.starts_with("README block ")).last().unwrap_or("before the first block");
    assert!(out.status.success(), "a README example failed in {last}:\n{stderr}");
    // An example that draws a warning misleads whoever copies it.
    assert!(!stderr.contains("WARNING:"), "a README example drew a warning:\n{stderr}");
    let ran = stdout.lines().filter(|l| l.starts_with("README block ")).count();
    assert_eq!(ran, blocks.len() - skipped.len());

    drop(db);
    drop_roles(&mut admin, &roles);
}
