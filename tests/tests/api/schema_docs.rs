//! `docs/read-models.md`, the analysts' map of schema `read`: every table, view and column as the
//! database has them after `migrate`, described by the comments the migrations write above
//! (or beside) them. Generated here and compared, so it cannot drift: after a migration, run
//! `UPDATE_DOCS=1 cargo nextest run -p integration-tests the_read_model_docs`.

use crate::helpers::TestDb;
use std::collections::BTreeMap;
use std::path::Path;

/// What the migrations say about each table and column, in order (a later comment on the same
/// column, e.g. from an `ALTER TABLE … ADD COLUMN`, adds to it).
#[derive(Default)]
struct Comments {
    tables: BTreeMap<String, Vec<String>>,
    columns: BTreeMap<(String, String), Vec<String>>,
}

impl Comments {
    fn read(dir: &Path) -> Self {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("migrations")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        let mut comments = Self::default();
        for file in files {
            comments.add(&std::fs::read_to_string(&file).expect("a migration"));
        }
        comments
    }

    /// Reads one migration. A table is described by the comment right above it or, without one,
    /// by the last comment above it in its file (the section it belongs to, e.g. "plans and
    /// their versions" above the plans); a column by the comments above it and beside it.
    fn add(&mut self, sql: &str) {
        let mut above: Vec<String> = Vec::new();
        let mut section: Vec<String> = Vec::new();
        let mut table: Option<String> = None;
        for line in sql.lines() {
            let trimmed = line.trim();
            if let Some(text) = trimmed.strip_prefix("--") {
                above.push(text.trim().to_string());
                continue;
            }
            if trimmed.is_empty() {
                if table.is_none() && !above.is_empty() {
                    section = std::mem::take(&mut above);
                }
                continue;
            }
            let lower = trimmed.to_lowercase();
            let created = lower
                .strip_prefix("create table read.")
                .or_else(|| lower.strip_prefix("create view read."));
            if let Some(rest) = created {
                let name = rest
                    .split([' ', '('])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let mut text = std::mem::take(&mut above);
                if text.is_empty() {
                    text = section.clone();
                }
                section = text.clone();
                self.tables.entry(name.clone()).or_default().extend(text);
                table = Some(name);
                continue;
            }
            if let Some(rest) = lower.strip_prefix("alter table read.") {
                let name = rest
                    .split([' ', '('])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if let Some(column) = lower.split("add column ").nth(1) {
                    let column = column.split_whitespace().next().unwrap_or_default();
                    self.column(&name, column, std::mem::take(&mut above), trimmed);
                } else {
                    above.clear();
                    table = Some(name);
                }
                if trimmed.ends_with(';') {
                    table = None;
                }
                continue;
            }
            match &table {
                Some(name) if trimmed.starts_with(')') || trimmed.ends_with(';') => {
                    if !trimmed.starts_with(')') {
                        self.column_line(&name.clone(), trimmed, &mut above);
                    }
                    table = None;
                    above.clear();
                }
                Some(name) => self.column_line(&name.clone(), trimmed, &mut above),
                None => above.clear(),
            }
        }
    }

    /// A line of a table's body: a column (with the comments above it and beside it), or a
    /// constraint, whose comments are not a column's.
    fn column_line(&mut self, table: &str, line: &str, above: &mut Vec<String>) {
        let text = std::mem::take(above);
        let first = line.split_whitespace().next().unwrap_or_default();
        let keyword = [
            "primary",
            "unique",
            "check",
            "constraint",
            "foreign",
            "add",
            "alter",
        ]
        .contains(&first.to_lowercase().as_str());
        if !keyword {
            self.column(table, &first.to_lowercase(), text, line);
        }
    }

    fn column(&mut self, table: &str, column: &str, mut text: Vec<String>, line: &str) {
        if let Some((_, beside)) = line.split_once("--") {
            text.push(beside.trim().to_string());
        }
        let column = column.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
        self.columns
            .entry((table.to_string(), column.to_string()))
            .or_default()
            .extend(text.into_iter().filter(|t| !t.is_empty()));
    }
}

async fn render(db: &TestDb) -> String {
    let comments = Comments::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations"));
    let columns: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, \
                CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END::text, \
                is_nullable = 'YES' \
         FROM information_schema.columns WHERE table_schema = 'read' \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut out = String::from(
        "# The read models (schema `read`)\n\n\
         Generated from the database after `migrate` and the comments of the migrations that \
         create each table and column (`tests/tests/api/schema_docs.rs`; do not edit by hand). \
         Analysts read these tables as members of `igny8_analyst` (see the README). Times are \
         `timestamptz` (UTC), days are business days in UTC, money is in minor units with its \
         currency beside it.\n",
    );
    let mut current = String::new();
    for (table, column, data_type, nullable) in columns {
        if table != current {
            out.push_str(&format!("\n## `read.{table}`\n\n"));
            if let Some(text) = comments.tables.get(&table).filter(|t| !t.is_empty()) {
                out.push_str(&text.join(" "));
                out.push_str("\n\n");
            }
            out.push_str("| column | type | null | what it holds |\n|---|---|---|---|\n");
            current = table.clone();
        }
        let text = comments
            .columns
            .get(&(table.clone(), column.clone()))
            .map(|t| t.join(" "))
            .unwrap_or_default();
        out.push_str(&format!(
            "| `{column}` | {data_type} | {} | {} |\n",
            if nullable { "yes" } else { "" },
            text.replace('|', "\\|")
        ));
    }
    out
}

#[tokio::test]
async fn the_read_model_docs_are_generated_from_the_migrations() {
    let db = TestDb::new().await;
    let rendered = render(&db).await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/read-models.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != rendered {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).expect("docs written");
        } else {
            panic!(
                "docs/read-models.md is out of date: run UPDATE_DOCS=1 cargo nextest run -p \
                 integration-tests the_read_model_docs"
            );
        }
    }
    // Every table is described.
    for section in rendered.split("\n## ").skip(1) {
        let mut lines = section.lines();
        let title = lines.next().unwrap_or_default();
        let described = lines.nth(1).is_some_and(|l| !l.starts_with('|'));
        assert!(described, "{title} has no comment in its migration");
    }
}
