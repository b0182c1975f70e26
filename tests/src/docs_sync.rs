//! The book cannot drift from the code: included regions match their anchors, and relative
//! links resolve.
//!
//! - **Includes.** In every `docs/**/*.md`, a line `<!-- include: PATH#NAME -->` (PATH relative
//!   to the repository root) must be immediately followed by a ```` ```rust ```` fenced block
//!   whose content equals the region between `// ANCHOR: NAME` and `// ANCHOR_END: NAME` in
//!   PATH. Both sides are compared after dropping anchor lines (of any name, as mdBook does),
//!   trailing spaces, leading and trailing blank lines, and their common indentation.
//! - **Links.** Every relative link (`[text](target)` or `[label]: target`) in `docs/**/*.md`
//!   and the root `README.md` must point to an existing file or directory, resolved from the
//!   linking file's directory. Web links (`scheme:`) and in-page links (`#...`) are skipped, as
//!   are fenced code blocks and inline code spans.
//!
//! Each test collects every problem first and fails once, listing them all with the fix.
//! Code blocks without a marker are not checked: the book marks those "simplified".
//! std only; the repository root is `CARGO_MANIFEST_DIR/..`.

use std::fs;
use std::path::{Path, PathBuf};

/// The marker that opens an include: `<!-- include: PATH#NAME -->`.
const INCLUDE_OPEN: &str = "<!-- include:";
/// The end of an include marker.
const INCLUDE_CLOSE: &str = "-->";
/// The start of an anchor line in a source file (`// ANCHOR: NAME`).
const ANCHOR: &str = "// ANCHOR:";
/// The start of an anchor's end line (`// ANCHOR_END: NAME`).
const ANCHOR_END: &str = "// ANCHOR_END:";

/// The workspace root: the parent of this package's directory.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// Every `*.md` file under `dir`, sorted, so failures list in a stable order.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot list {dir:?}: {error}"));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `path` relative to the repository root, for messages.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Trailing spaces, leading/trailing blank lines and the common indentation removed.
fn normalize<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lines: Vec<&str> = lines.into_iter().map(str::trim_end).collect();
    let Some(first) = lines.iter().position(|line| !line.is_empty()) else {
        return Vec::new();
    };
    let last = lines
        .iter()
        .rposition(|line| !line.is_empty())
        .expect("a non-blank line exists");
    let lines = &lines[first..=last];
    let indent = lines
        .iter()
        .filter(|line| !line.is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|line| line.get(indent..).unwrap_or("").to_owned())
        .collect()
}

/// Whether `line` is an anchor or anchor-end line (of any name).
fn is_anchor_line(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with(ANCHOR) || line.starts_with(ANCHOR_END)
}

/// The region named `name` in `source`, normalized, or why it cannot be found.
fn anchored_region(source: &str, name: &str) -> Result<Vec<String>, String> {
    let open = format!("{ANCHOR} {name}");
    let close = format!("{ANCHOR_END} {name}");
    let lines: Vec<&str> = source.lines().collect();
    let opens: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim() == open)
        .collect();
    let start = match opens.as_slice() {
        [] => return Err(format!("anchor not found: no line `{open}`")),
        [start] => *start,
        _ => return Err(format!("anchor defined {} times: `{open}`", opens.len())),
    };
    let Some(end) = (start + 1..lines.len()).find(|&i| lines[i].trim() == close) else {
        return Err(format!(
            "anchor not closed: no line `{close}` after `{open}`"
        ));
    };
    Ok(normalize(
        lines[start + 1..end]
            .iter()
            .copied()
            .filter(|line| !is_anchor_line(line)),
    ))
}

/// The first line where `expected` and `actual` differ, for the failure message.
fn first_difference(expected: &[String], actual: &[String]) -> String {
    let at = (0..expected.len().max(actual.len()))
        .find(|&i| expected.get(i) != actual.get(i))
        .unwrap_or(0);
    format!(
        "first difference at block line {}: source has {:?}, book has {:?}",
        at + 1,
        expected.get(at).map_or("<end of region>", String::as_str),
        actual.get(at).map_or("<end of block>", String::as_str),
    )
}

/// Checks every include marker of one markdown file; returns how many it found.
fn check_includes(root: &Path, md: &Path, problems: &mut Vec<String>) -> usize {
    let text = fs::read_to_string(md).unwrap_or_else(|error| panic!("cannot read {md:?}: {error}"));
    let lines: Vec<&str> = text.lines().collect();
    let md_shown = shown(root, md);
    let mut count = 0;
    let mut in_fence = false;
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        // A marker shown inside a code block is an example, not an include.
        let Some(rest) = line.strip_prefix(INCLUDE_OPEN).filter(|_| !in_fence) else {
            continue;
        };
        count += 1;
        let at = format!("{md_shown}:{}", i + 1);
        let Some((path, name)) = rest
            .strip_suffix(INCLUDE_CLOSE)
            .and_then(|spec| spec.trim().split_once('#'))
        else {
            problems.push(format!(
                "{at}: malformed include marker {line:?}; fix: write `<!-- include: PATH#NAME -->`"
            ));
            continue;
        };
        let (path, name) = (path.trim(), name.trim());
        let Some(fence) = lines.get(i + 1).map(|next| next.trim()) else {
            problems.push(format!("{at}: include of {path}#{name} ends the file; fix: put the ```rust block on the next line"));
            continue;
        };
        if !fence.starts_with("```rust") {
            problems.push(format!(
                "{at}: include of {path}#{name} is not immediately followed by a ```rust block; \
                 fix: put the ```rust block on the line right after the marker"
            ));
            continue;
        }
        let Some(close) = (i + 2..lines.len()).find(|&j| lines[j].trim() == "```") else {
            problems.push(format!(
                "{at}: the ```rust block of {path}#{name} is never closed; fix: close it with ```"
            ));
            continue;
        };
        let book = normalize(lines[i + 2..close].iter().copied());
        let source = match fs::read_to_string(root.join(path)) {
            Ok(source) => source,
            Err(error) => {
                problems.push(format!(
                    "{at}: include of {path}#{name}: cannot read {path} ({error}); fix: give a \
                     path relative to the repository root"
                ));
                continue;
            }
        };
        match anchored_region(&source, name) {
            Err(why) => problems.push(format!(
                "{at}: include of {path}#{name}: {why}; fix: add `// ANCHOR: {name}` and \
                 `// ANCHOR_END: {name}` around the code in {path}, or correct the name"
            )),
            Ok(region) if region != book => problems.push(format!(
                "{at}: include of {path}#{name} is out of sync ({}); fix: copy the region again \
                 (the lines between `// ANCHOR: {name}` and `// ANCHOR_END: {name}` in {path}) \
                 into the block",
                first_difference(&region, &book)
            )),
            Ok(_) => {}
        }
    }
    count
}

/// `line` with inline code spans (`` `...` ``) blanked out, so code is not read as links.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if in_code {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The link targets of one line: inline `[text](target)` and definitions `[label]: target`.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    // A definition: the line starts with `[label]` and `: ` follows the first `]`.
    let trimmed = line.trim_start();
    if let Some(label_end) = trimmed
        .starts_with('[')
        .then(|| trimmed.find(']'))
        .flatten()
    {
        if let Some(rest) = trimmed[label_end + 1..].strip_prefix(": ") {
            if let Some(target) = rest.split_whitespace().next() {
                targets.push(target.to_owned());
            }
            return targets;
        }
    }
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else {
            break;
        };
        let inside = after[..end].trim();
        // A title may follow the target: [text](target "title").
        if let Some(target) = inside.split_whitespace().next() {
            targets.push(target.to_owned());
        }
        rest = &after[end..];
    }
    targets
}

/// Whether `target` leaves the repository (a URL) or stays on the page (`#anchor`).
fn is_external_or_in_page(target: &str) -> bool {
    if target.starts_with('#') {
        return true;
    }
    // A scheme: letters, digits, '+', '-', '.' before a ':' (http:, https:, mailto:, ...).
    match target.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Checks every relative link of one markdown file.
fn check_links(root: &Path, md: &Path, problems: &mut Vec<String>) {
    let text = fs::read_to_string(md).unwrap_or_else(|error| panic!("cannot read {md:?}: {error}"));
    let dir = md.parent().expect("a file has a directory");
    let md_shown = shown(root, md);
    let mut in_fence = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for target in link_targets(&without_code_spans(line)) {
            let target = target.trim_start_matches('<').trim_end_matches('>');
            if is_external_or_in_page(target) {
                continue;
            }
            let path = target.split('#').next().unwrap_or(target);
            if path.is_empty() || dir.join(path).exists() {
                continue;
            }
            let from = match shown(root, dir) {
                dir if dir.is_empty() => "the repository root".to_owned(),
                dir => dir,
            };
            problems.push(format!(
                "{md_shown}:{}: link to {target:?} points to nothing (resolved from {from}); \
                 fix: correct the path (relative to the linking file) or create the file",
                i + 1,
            ));
        }
    }
}

/// Fails with every problem, one per line, if there are any.
fn fail_on(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} {what}:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn included_code_matches_its_anchored_source_region() {
    let root = repo_root();
    let mut problems = Vec::new();
    let mut includes = 0;
    for md in markdown_files(&root.join("docs")) {
        includes += check_includes(&root, &md, &mut problems);
    }
    fail_on("out-of-sync includes in docs/", &problems);
    assert!(
        includes > 0,
        "found no `<!-- include: PATH#NAME -->` marker in docs/: the book shows real code \
         through them; fix: restore the markers (or delete this test if the book no longer \
         shows code)"
    );
}

#[test]
fn relative_links_in_the_book_and_readme_resolve() {
    let root = repo_root();
    let mut problems = Vec::new();
    let mut files = markdown_files(&root.join("docs"));
    files.push(root.join("README.md"));
    for md in &files {
        check_links(&root, md, &mut problems);
    }
    fail_on("broken relative links", &problems);
}

#[test]
fn the_checker_itself_normalizes_and_finds_regions() {
    let source = "fn a() {\n    // ANCHOR: body\n        let x = 1;\n\n    // ANCHOR: inner\n        let y = x;\n    // ANCHOR_END: inner\n    // ANCHOR_END: body\n}\n";
    assert_eq!(
        anchored_region(source, "body").unwrap(),
        vec!["let x = 1;", "", "let y = x;"]
    );
    assert_eq!(
        anchored_region(source, "inner").unwrap(),
        vec!["let y = x;"]
    );
    assert!(anchored_region(source, "missing")
        .unwrap_err()
        .contains("anchor not found"));
    assert_eq!(
        link_targets("see [a](x.md) and [b](../y.md#part \"t\") and `[c](no.md)`"),
        vec!["x.md", "../y.md#part", "no.md"]
    );
    assert_eq!(
        link_targets(&without_code_spans("see `[c](no.md)` only")),
        Vec::<String>::new()
    );
    assert_eq!(
        link_targets("[mio]: https://docs.rs/mio"),
        vec!["https://docs.rs/mio"]
    );
    assert!(is_external_or_in_page("https://docs.rs/mio"));
    assert!(is_external_or_in_page("#the-loop"));
    assert!(!is_external_or_in_page("tour/01-call_soon.md"));
}
