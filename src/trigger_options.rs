//! The arguments of `queue.enqueue_trigger()`: the target queue, then `key=value` options.
//! Parsed at CREATE TRIGGER time (by an event trigger) and again when the trigger fires.

use crate::error::QueueError;
use crate::validate::queue_name;

pub const OPTIONS: &str = "columns, group_key, dedupe_key, on_duplicate, debounce, priority, spread";

#[derive(Debug, Default, PartialEq)]
pub struct TriggerOptions {
    pub queue: String,
    /// Payload rows hold only these columns (all columns when None).
    pub columns: Option<Vec<String>>,
    /// Column whose value becomes the job's group_key.
    pub group_key: Option<String>,
    /// Column whose value becomes the job's dedupe_key.
    pub dedupe_key: Option<String>,
    pub priority: i32,
    /// `spread=<column>:<interval>`: the job is due at the column value's slot in the period.
    pub spread: Option<(String, String)>,
    /// What a live duplicate does: 'skip' (default), 'replace' or 'raise' (src/api/dedupe.rs).
    pub on_duplicate: Option<String>,
    /// `debounce=<interval>` (with on_duplicate=replace), parsed when the trigger is checked.
    pub debounce: Option<String>,
}

fn option_error(arg: &str, why: impl std::fmt::Display) -> QueueError {
    QueueError::invalid(format!("enqueue_trigger option \"{}\": {why}", arg.escape_default()))
}

fn column_name(arg: &str, name: &str) -> Result<String, QueueError> {
    let name = name.trim();
    if name.is_empty() {
        Err(option_error(arg, "a column name is empty"))
    } else {
        Ok(name.to_owned())
    }
}

impl TriggerOptions {
    pub fn parse(args: &[String]) -> Result<Self, QueueError> {
        let Some((queue, rest)) = args.split_first() else {
            return Err(QueueError::invalid(
                "enqueue_trigger needs the target queue as its first argument, e.g. EXECUTE FUNCTION queue.enqueue_trigger('my_queue')",
            ));
        };
        let mut opts = TriggerOptions { queue: queue_name(Some(queue))?.to_owned(), ..Default::default() };
        let mut seen: Vec<&str> = Vec::new();
        for arg in rest {
            if arg.trim().is_empty() {
                return Err(option_error(
                    arg,
                    format!("the argument is empty; options are key=value with a key among {OPTIONS}"),
                ));
            }
            let Some((key, value)) = arg.split_once('=') else {
                return Err(option_error(arg, format!("expected key=value with a key among {OPTIONS}")));
            };
            let key = key.trim();
            if seen.contains(&key) {
                return Err(option_error(arg, format!("{key} is given twice")));
            }
            match key {
                "columns" => {
                    let cols = value.split(',').map(|c| column_name(arg, c)).collect::<Result<Vec<_>, _>>()?;
                    opts.columns = Some(cols);
                }
                "group_key" => opts.group_key = Some(column_name(arg, value)?),
                "dedupe_key" => opts.dedupe_key = Some(column_name(arg, value)?),
                "priority" => {
                    opts.priority =
                        value.trim().parse().map_err(|_| option_error(arg, "priority must be an integer"))?;
                }
                "on_duplicate" => {
                    let mode = value.trim();
                    if !matches!(mode, "skip" | "replace" | "raise") {
                        return Err(option_error(arg, "on_duplicate must be skip, replace or raise"));
                    }
                    opts.on_duplicate = Some(mode.to_owned());
                }
                "debounce" => {
                    if value.trim().is_empty() {
                        return Err(option_error(arg, "the debounce interval is empty"));
                    }
                    opts.debounce = Some(value.trim().to_owned());
                }
                "spread" => {
                    let Some((column, period)) = value.split_once(':') else {
                        return Err(option_error(
                            arg,
                            "spread must be <column>:<interval>, e.g. spread=user_id:6 hours",
                        ));
                    };
                    if period.trim().is_empty() {
                        return Err(option_error(arg, "the spread interval is empty"));
                    }
                    opts.spread = Some((column_name(arg, column)?, period.trim().to_owned()));
                }
                other => {
                    return Err(option_error(
                        arg,
                        format!("unknown option \"{}\"; options are {OPTIONS}", other.escape_default()),
                    ))
                }
            }
            seen.push(key);
        }
        // Checked once every option is known, whatever their order.
        if opts.on_duplicate.is_some() && opts.dedupe_key.is_none() {
            return Err(QueueError::invalid("enqueue_trigger option on_duplicate needs the dedupe_key option"));
        }
        if opts.debounce.is_some() && opts.on_duplicate.as_deref() != Some("replace") {
            return Err(QueueError::invalid("enqueue_trigger option debounce needs on_duplicate=replace"));
        }
        Ok(opts)
    }

    /// Every column an option names must exist in the table.
    pub fn check_columns(&self, table: &str, available: &[String]) -> Result<(), QueueError> {
        let named = self.columns.iter().flatten().map(|c| ("columns", c));
        let named = named.chain(self.group_key.iter().map(|c| ("group_key", c)));
        let named = named.chain(self.dedupe_key.iter().map(|c| ("dedupe_key", c)));
        let named = named.chain(self.spread.iter().map(|(c, _)| ("spread", c)));
        for (option, column) in named {
            if !available.iter().any(|a| a == column) {
                return Err(QueueError::UndefinedColumn(format!(
                    "enqueue_trigger option {option} names column \"{}\", which table {table} does not have",
                    column.escape_default()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn parse(args: &[&str]) -> Result<TriggerOptions, QueueError> {
        TriggerOptions::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_every_option() {
        let o = parse(&[
            "q",
            "columns=id, email",
            "group_key=tenant",
            "dedupe_key=id",
            "priority=-3",
            "spread=id: 6 hours",
        ])
        .unwrap();
        assert_eq!(o.spread, Some(("id".to_string(), "6 hours".to_string())));
        assert_eq!(o.queue, "q");
        assert_eq!(o.columns, Some(vec!["id".to_string(), "email".to_string()]));
        assert_eq!(o.group_key.as_deref(), Some("tenant"));
        assert_eq!(o.dedupe_key.as_deref(), Some("id"));
        assert_eq!(o.priority, -3);
    }

    #[test]
    fn errors_name_the_option() {
        let msg = |args: &[&str]| parse(args).unwrap_err().to_string();
        assert!(msg(&[]).contains("first argument"));
        assert!(msg(&["Bad Queue"]).contains("invalid queue name"));
        assert!(msg(&["q", "colour=red"]).contains("unknown option \"colour\""));
        assert!(msg(&["q", "columns"]).contains("\"columns\": expected key=value"));
        assert!(msg(&["q", ""]).contains("the argument is empty"));
        assert!(msg(&["q", "priority=high"]).contains("\"priority=high\": priority must be an integer"));
        assert!(msg(&["q", "columns=a,,b"]).contains("a column name is empty"));
        assert!(msg(&["q", "priority=1", "priority=2"]).contains("given twice"));
        assert!(msg(&["q", "spread=id"]).contains("spread must be <column>:<interval>"));
        assert!(msg(&["q", "spread=id:"]).contains("the spread interval is empty"));
        assert!(
            msg(&["q", "dedupe_key=id", "on_duplicate=merge"]).contains("on_duplicate must be skip, replace or raise")
        );
        assert!(msg(&["q", "on_duplicate=replace"]).contains("needs the dedupe_key option"));
        assert!(msg(&["q", "dedupe_key=id", "debounce=1 minute"]).contains("debounce needs on_duplicate=replace"));
        assert!(
            msg(&["q", "dedupe_key=id", "on_duplicate=replace", "debounce= "]).contains("debounce interval is empty")
        );
        let o = parse(&["q", "debounce=5 seconds", "on_duplicate=replace", "dedupe_key=id"]).unwrap();
        assert_eq!((o.on_duplicate.as_deref(), o.debounce.as_deref()), (Some("replace"), Some("5 seconds")));
    }

    #[test]
    fn unknown_columns_are_named() {
        let o = parse(&["q", "columns=id,nope"]).unwrap();
        let err = o.check_columns("public.t", &["id".into(), "email".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "enqueue_trigger option columns names column \"nope\", which table public.t does not have"
        );
        assert!(parse(&["q", "group_key=email"]).unwrap().check_columns("t", &["email".into()]).is_ok());
    }
}
