//! Size limits of the configuration, checked before anything grows with
//! the input.
//!
//! Every list in the file has a maximum number of entries (documented in
//! `configs/las.example.toml`), and the file itself at most
//! [`MAX_FILE_BYTES`]. `prescan` counts the entries of every array and
//! array of tables in the source text before the TOML parser builds its
//! tree (which costs about 200 bytes per value: a 16 MiB file of `1,`
//! would take 1.7 GB), and `validate` checks the same limits again on the
//! parsed lists before expanding any of them.

use super::ConfigError;
use crate::switch::filter;

/// Largest configuration las reads: 16 MiB.
pub const MAX_FILE_BYTES: usize = 16 << 20;
/// `[eal] args`.
pub const MAX_EAL_ARGS: usize = 128;
/// `[[port]]`: DPDK's `RTE_MAX_ETHPORTS`.
pub const MAX_PORTS: usize = 32;
/// `[[neighbor]]`.
pub const MAX_NEIGHBORS: usize = 4096;
/// `[[switch]]` (also at most `dataplane.max_switches`).
pub const MAX_SWITCHES: usize = 65535;
/// `[[session]]` (also at most `dataplane.max_sessions`).
pub const MAX_SESSIONS: usize = 65535;
/// `[l2tp] allow`.
pub const MAX_L2TP_ALLOW: usize = 1024;
/// `[[l2tp.peer]]`.
pub const MAX_L2TP_PEERS: usize = 1024;
/// Entries (ids or ranges) of one switch's `vlans`.
pub const MAX_VLAN_ENTRIES: usize = 4094;
/// `vc_ids` of one switch.
pub const MAX_VC_IDS: usize = 4096;
/// `vc_ids` of all switches together.
pub const MAX_VC_IDS_TOTAL: usize = 65535;
/// `ethertypes` of one switch (the filter's table size).
pub const MAX_ETHERTYPES: usize = filter::MAX_ETHERTYPES;
/// `deny` of one switch (the filter's table size).
pub const MAX_DENY: usize = filter::MAX_DENY;
/// `static_macs` of one switch (all switches together: at most
/// `dataplane.mac_table_size`, as every worker holds all of them).
pub const MAX_STATIC_MACS: usize = 4096;

/// The list limits by key path, without indices.
const LISTS: &[(&str, usize)] = &[
    ("eal.args", MAX_EAL_ARGS),
    ("port", MAX_PORTS),
    ("neighbor", MAX_NEIGHBORS),
    ("switch", MAX_SWITCHES),
    ("switch.ethertypes", MAX_ETHERTYPES),
    ("switch.deny", MAX_DENY),
    ("switch.vc_ids", MAX_VC_IDS),
    ("switch.vlans", MAX_VLAN_ENTRIES),
    ("switch.static_macs", MAX_STATIC_MACS),
    ("session", MAX_SESSIONS),
    ("l2tp.allow", MAX_L2TP_ALLOW),
    ("l2tp.peer", MAX_L2TP_PEERS),
];

/// Any other array (an unknown key, refused later, or one nested in a
/// value).
const MAX_OTHER: usize = 4096;

/// Arrays and inline tables nest at most this deep (the schema needs 2).
const MAX_DEPTH: usize = 16;

pub(super) fn file_too_big() -> String {
    format!("larger than {MAX_FILE_BYTES} bytes (16 MiB)")
}

/// `key = N entries: at most MAX entries`.
pub(super) fn too_many(key: impl Into<String>, n: usize, max: usize) -> ConfigError {
    ConfigError::new(
        key,
        format!("{n} entries"),
        format!("at most {max} entries"),
    )
}

/// Refuses a list longer than `max`, before anything is done with it.
pub(super) fn at_most<T>(
    key: impl Into<String>,
    list: &[T],
    max: usize,
) -> Result<(), ConfigError> {
    if list.len() > max {
        Err(too_many(key, list.len(), max))
    } else {
        Ok(())
    }
}

fn limit(path: &str) -> usize {
    LISTS
        .iter()
        .find(|(p, _)| *p == path)
        .map_or(MAX_OTHER, |&(_, n)| n)
}

/// Index of `path` in [`LISTS`]; `LISTS.len()` for any other.
fn list_index(path: &str) -> usize {
    LISTS
        .iter()
        .position(|(p, _)| *p == path)
        .unwrap_or(LISTS.len())
}

/// A dotted key as the schema spells it: parts trimmed and unquoted.
fn norm(key: &str) -> String {
    key.split('.')
        .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\''))
        .collect::<Vec<_>>()
        .join(".")
}

/// Index just past the string starting at `b[i]` (`"`, `'`, `"""` or
/// `'''`); an unterminated one ends at the newline or the end, and the
/// TOML parser reports it.
fn skip_string(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let escapes = q == b'"';
    if b[i..].starts_with(&[q, q, q]) {
        let mut j = i + 3;
        while j < b.len() {
            if escapes && b[j] == b'\\' {
                j += 2;
            } else if b[j..].starts_with(&[q, q, q]) {
                j += 3;
                // Up to two more quotes are part of the content.
                for _ in 0..2 {
                    if b.get(j) == Some(&q) {
                        j += 1;
                    }
                }
                return j;
            } else {
                j += 1;
            }
        }
        return b.len();
    }
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if escapes => j += 2,
            b'\n' => return j,
            c if c == q => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

/// An open array or inline table.
struct Open {
    array: bool,
    /// Entries closed by a comma.
    entries: usize,
    /// Something was written since the last comma.
    pending: bool,
    limit: usize,
}

/// The first list found over its limit.
enum Over {
    /// An array: its key and entries.
    Array(String, usize, usize),
    /// `[[name]]`, its [`list_index`] and limit: counted to the end of the
    /// document.
    Tables(String, usize, usize),
}

/// Counts the entries of every array (`key = [...]`) and every array of
/// tables (`[[name]]`) in `src` with a lexer that knows only strings,
/// comments, brackets and commas, and refuses the first list over its
/// limit, naming its key (`switch[2].vlans`), before the TOML parser
/// allocates anything. Linear in `src`; it holds one key and one table
/// name at a time. Anything it does not understand is left to the parser
/// to report.
pub(super) fn prescan(src: &str) -> Result<(), ConfigError> {
    let b = src.as_bytes();
    // `[[name]]` counts by `list_index`, the last for all other names
    // (unknown ones, refused later).
    let mut tables = [0usize; LISTS.len() + 1];
    // The current table as a limit path (`switch`) and as shown
    // (`switch[2]`).
    let mut table = String::new();
    let mut table_shown = String::new();
    // The key of the value being read at depth 0, shown.
    let mut key = String::new();
    let mut key_start: Option<usize> = None;
    let mut after_eq = false;
    let mut stack: Vec<Open> = Vec::new();
    let mut over: Option<Over> = None;
    let mut i = 0;
    let shown_key = |table_shown: &str, key: &str| {
        if table_shown.is_empty() {
            key.to_string()
        } else {
            format!("{table_shown}.{key}")
        }
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'\n' => {
                if stack.is_empty() {
                    after_eq = false;
                    key_start = None;
                }
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        if let Some(top) = stack.last_mut() {
            if top.array && c != b',' && c != b']' {
                top.pending = true;
            }
        } else if !after_eq && c != b'[' && key_start.is_none() {
            key_start = Some(i);
        }
        match c {
            b'"' | b'\'' => {
                i = skip_string(b, i);
                continue;
            }
            b'=' if stack.is_empty() && !after_eq => {
                key = norm(src.get(key_start.unwrap_or(i)..i).unwrap_or(""));
                after_eq = true;
            }
            b'[' if stack.is_empty() && !after_eq => {
                // A table header: find its end, skipping quoted keys.
                let double = b.get(i + 1) == Some(&b'[');
                let start = i + if double { 2 } else { 1 };
                let mut j = start;
                while j < b.len() && b[j] != b']' && b[j] != b'\n' {
                    if b[j] == b'"' || b[j] == b'\'' {
                        j = skip_string(b, j);
                    } else {
                        j += 1;
                    }
                }
                let name = norm(src.get(start..j).unwrap_or(""));
                if double {
                    let ix = list_index(&name);
                    tables[ix] += 1;
                    table_shown = format!("{name}[{}]", tables[ix] - 1);
                    let max = limit(&name);
                    if tables[ix] > max && over.is_none() {
                        over = Some(Over::Tables(name.clone(), ix, max));
                    }
                } else {
                    table_shown = name.clone();
                }
                // Past the closing bracket(s), if they are there.
                for _ in 0..if double { 2 } else { 1 } {
                    if b.get(j) == Some(&b']') {
                        j += 1;
                    }
                }
                table = name;
                key_start = None;
                i = j;
                continue;
            }
            b'[' | b'{' => {
                if stack.len() == MAX_DEPTH {
                    return Err(ConfigError::new(
                        shown_key(&table_shown, &key),
                        format!("more than {MAX_DEPTH} levels"),
                        format!("arrays and inline tables nest at most {MAX_DEPTH} deep"),
                    ));
                }
                let limit = if stack.is_empty() {
                    limit(&if table.is_empty() {
                        key.clone()
                    } else {
                        format!("{table}.{key}")
                    })
                } else {
                    MAX_OTHER
                };
                stack.push(Open {
                    array: c == b'[',
                    entries: 0,
                    pending: false,
                    limit,
                });
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    if top.array && top.pending {
                        top.entries += 1;
                        top.pending = false;
                    }
                }
            }
            b']' | b'}' => {
                if let Some(top) = stack.pop() {
                    let n = top.entries + usize::from(top.pending);
                    if top.array && n > top.limit && over.is_none() {
                        over = Some(Over::Array(shown_key(&table_shown, &key), n, top.limit));
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    // Arrays left open: the parser would read them to the end.
    for top in stack {
        let n = top.entries + usize::from(top.pending);
        if top.array && n > top.limit && over.is_none() {
            over = Some(Over::Array(shown_key(&table_shown, &key), n, top.limit));
        }
    }
    match over {
        None => Ok(()),
        Some(Over::Array(key, n, max)) => Err(too_many(key, n, max)),
        Some(Over::Tables(name, ix, max)) => Err(too_many(name, tables[ix], max)),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[track_caller]
    fn over(src: &str, key: &str, n: usize) {
        let e = prescan(src).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.value.clone()),
            (key, format!("{n} entries")),
            "{e}"
        );
    }

    #[test]
    fn counts_entries() {
        let many = |n: usize, item: &str| vec![item; n].join(", ");
        over(
            &format!("[eal]\nargs = [{}]\n", many(129, "\"x\"")),
            "eal.args",
            129,
        );
        prescan(&format!("[eal]\nargs = [{},]\n", many(128, "\"x\""))).unwrap();
        // Trailing comma, comments, newlines and nested values.
        prescan(&format!(
            "[[switch]]\nvlans = [ # c, c\n{}, # ]\n]\n",
            many(4094, "\"1-2\"")
        ))
        .unwrap();
        over(
            &format!(
                "[[switch]]\n[[switch]]\nvlans = [{}]\n",
                many(4095, "[1, 2]")
            ),
            "switch[1].vlans",
            4095,
        );
        over(
            &format!("[[switch]]\ndeny = [{}]\n", many(17, "{ a = [1, 2] }")),
            "switch[0].deny",
            17,
        );
        over(&"[[port]]\n".repeat(33), "port", 33);
        over(&"[[ l2tp.peer ]]\n".repeat(1025), "l2tp.peer", 1025);
        over(
            &format!("[l2tp]\n\"allow\" = [{}", many(1025, "'1'")),
            "l2tp.allow",
            1025,
        );
        over(
            &format!("session = [{}]\n", many(65536, "{}")),
            "session",
            65536,
        );
        // The first list over its limit is named, with all its entries.
        over(
            &format!(
                "{}[[switch]]\nethertypes = [{}]\n",
                "[[port]]\n".repeat(40),
                many(40, "1")
            ),
            "port",
            40,
        );
    }

    #[test]
    fn strings_and_comments_hide_brackets() {
        let doc = "a = \"[,]\\\"[\"\nb = '[,'\nc = \"\"\"\n[[port]]\"\"\"\"\"\n\
                   d = '''[[port]]'''\n# [[port]]\ne = [\"]\", ',', \"\"\"a,\nb\"\"\"]\n";
        prescan(&format!("{doc}{}", "[[port]]\n".repeat(32))).unwrap();
        over(&format!("{doc}{}", "[[port]]\n".repeat(33)), "port", 33);
        // The header after a closing multi-line string is still seen.
        over(
            &format!("x = \"\"\"a\"\"\"\"\n{}", "[[port]]\n".repeat(33)),
            "port",
            33,
        );
    }

    /// Each list's limit is in the comment above its key in the example.
    #[test]
    fn limits_documented() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/las.example.toml");
        let doc = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = doc.lines().collect();
        for &(list, max) in LISTS {
            let last = list.rsplit('.').next().unwrap_or(list);
            let at = lines
                .iter()
                .position(|l| {
                    let l = l.trim_start_matches("# ");
                    *l == format!("[[{list}]]") || l.starts_with(&format!("{last} ="))
                })
                .unwrap_or_else(|| panic!("{list} not in the example"));
            let mut block: Vec<&str> = lines[..at]
                .iter()
                .rev()
                .take_while(|l| l.starts_with('#'))
                .copied()
                .collect();
            block.reverse();
            let text = block.join(" ").replace("# ", "");
            assert!(text.contains(&format!("at most {max}")), "{list}: {text}");
        }
    }

    #[test]
    fn depth_and_unclosed() {
        let e = prescan(&format!("x = {}", "[".repeat(100))).unwrap_err();
        assert_eq!(e.key, "x");
        over(
            &format!("[[switch]]\nvlans = [{}", "1,".repeat(5000)),
            "switch[0].vlans",
            5000,
        );
        // Unknown keys and [[names]] get the default cap (the names all
        // together); the parser refuses them anyway.
        let names: String = (0..4097).map(|n| format!("[[a{n}]]\n")).collect();
        over(&names, "a4096", 4097);
        prescan(&names[..names.len() - "[[a4096]]\n".len()]).unwrap();
        over(&format!("bogus = [{}]", "1,".repeat(4097)), "bogus", 4097);
        prescan("[[port\n]]\n[x\n= [\n").unwrap();
    }
}
