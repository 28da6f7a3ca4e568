//! A lab's prose and exercises, kept in one Markdown file beside its code (`include_str!`), so that TeX is
//! written once, as a reader types it, instead of inside Rust string literals with doubled backslashes.
//!
//! The file is split into named blocks by HTML comments on lines of their own:
//!
//! ```text
//! <!-- prose intro -->
//! Markdown with $math$ …
//! <!-- exercise ex1: Exercise 1 · Sampling inputs -->
//! The prompt …
//! <!-- hint -->
//! First hint …
//! <!-- hint -->
//! Second hint …
//! <!-- answer -->
//! The answer, shown only in the teacher's view …
//! <!-- teacher goals: Learning goals -->
//! Notes for teachers (goals, what to expect), shown only in the teacher's view …
//! ```
//!
//! Every exercise has an answer and every lab ends with a `prose sources` block saying which documents it
//! follows and where it differs from them (both checked by `tests/labs.rs`).
//!
//! The lab's `cells()` names the blocks where they belong. A missing name is a bug in the lab, found by
//! `tests/labs.rs` (every lab's cells are built there, and every block must be used exactly once).
use crate::protocol::Cell;

/// The named blocks of one lab's Markdown file, in file order.
pub struct LabText {
    blocks: Vec<Block>,
}

/// One named block: prose, or an exercise with its title and hints.
struct Block {
    key: &'static str,
    kind: Kind,
}

enum Kind {
    Prose(String),
    Exercise {
        title: &'static str,
        prompt: String,
        hints: Vec<String>,
        answer: Option<String>,
    },
    Teacher {
        title: &'static str,
        text: String,
    },
}

/// `key: Title` (or just `key`, which then is the title too).
fn key_and_title(rest: &'static str) -> (&'static str, &'static str) {
    let (key, title) = rest.split_once(':').unwrap_or((rest, rest));
    (key.trim(), title.trim())
}

impl LabText {
    /// Splits `md` into blocks. Text before the first marker is ignored (a file may open with a comment for
    /// its editors); an unknown marker is kept as Markdown (pulldown-cmark drops raw HTML anyway).
    pub fn parse(md: &'static str) -> Self {
        let mut blocks: Vec<Block> = Vec::new();
        for line in md.lines() {
            let marker = line
                .trim()
                .strip_prefix("<!--")
                .and_then(|l| l.strip_suffix("-->"))
                .map(str::trim);
            match marker {
                Some(m) if m.starts_with("prose ") => blocks.push(Block {
                    key: m["prose ".len()..].trim(),
                    kind: Kind::Prose(String::new()),
                }),
                Some(m) if m.starts_with("exercise ") => {
                    let (key, title) = key_and_title(&m["exercise ".len()..]);
                    blocks.push(Block {
                        key,
                        kind: Kind::Exercise {
                            title,
                            prompt: String::new(),
                            hints: Vec::new(),
                            answer: None,
                        },
                    });
                }
                Some(m) if m.starts_with("teacher ") => {
                    let (key, title) = key_and_title(&m["teacher ".len()..]);
                    blocks.push(Block {
                        key,
                        kind: Kind::Teacher {
                            title,
                            text: String::new(),
                        },
                    });
                }
                Some("hint") => {
                    if let Some(Block {
                        kind:
                            Kind::Exercise {
                                hints,
                                answer: None,
                                ..
                            },
                        ..
                    }) = blocks.last_mut()
                    {
                        hints.push(String::new());
                    }
                }
                Some("answer") => {
                    if let Some(Block {
                        kind: Kind::Exercise { answer, .. },
                        ..
                    }) = blocks.last_mut()
                    {
                        *answer = Some(String::new());
                    }
                }
                _ => {
                    let Some(block) = blocks.last_mut() else {
                        continue;
                    };
                    let text = match &mut block.kind {
                        Kind::Prose(text) | Kind::Teacher { text, .. } => text,
                        Kind::Exercise {
                            answer: Some(answer),
                            ..
                        } => answer,
                        Kind::Exercise { prompt, hints, .. } => hints.last_mut().unwrap_or(prompt),
                    };
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        Self { blocks }
    }

    /// Every block name, in file order (for the test that each is used once).
    pub fn keys(&self) -> Vec<&'static str> {
        self.blocks.iter().map(|b| b.key).collect()
    }

    fn block(&self, key: &str) -> &Block {
        self.blocks
            .iter()
            .find(|b| b.key == key)
            .unwrap_or_else(|| panic!("the lab's Markdown has no block '{key}'"))
    }

    /// Blocks that are exercises without an answer (for the test that every exercise has one).
    pub fn unanswered(&self) -> Vec<&'static str> {
        let missing = |b: &&Block| {
            matches!(&b.kind, Kind::Exercise { answer, .. }
                if answer.as_deref().is_none_or(|a| a.trim().is_empty()))
        };
        self.blocks.iter().filter(missing).map(|b| b.key).collect()
    }

    /// The prose block `key` as a cell.
    pub fn prose(&self, key: &str) -> Cell {
        match &self.block(key).kind {
            Kind::Prose(md) => Cell::Prose {
                html: crate::markdown::to_html(md.trim()),
            },
            _ => panic!("block '{key}' is not prose"),
        }
    }

    /// The teacher's block `key` as a cell (shown only in the teacher's view).
    pub fn teacher(&self, key: &str) -> Cell {
        match &self.block(key).kind {
            Kind::Teacher { title, text } => Cell::Teacher {
                title: (*title).into(),
                html: crate::markdown::to_html(text.trim()),
            },
            _ => panic!("block '{key}' is not a teacher's block"),
        }
    }

    /// The exercise block `key` as a cell.
    pub fn exercise(&self, key: &str) -> Cell {
        match &self.block(key).kind {
            Kind::Exercise {
                title,
                prompt,
                hints,
                answer,
            } => Cell::Exercise {
                title: (*title).into(),
                prompt_html: crate::markdown::to_html(prompt.trim()),
                hints_html: hints
                    .iter()
                    .map(|h| crate::markdown::to_html(h.trim()))
                    .collect(),
                answer_html: answer
                    .as_deref()
                    .map(|a| crate::markdown::to_html(a.trim())),
            },
            _ => panic!("block '{key}' is not an exercise"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_on_markers() {
        let t = LabText::parse(
            "intro ignored\n<!-- prose a -->\nSome $x^2$ text\n\n<!-- exercise e: Ex 1 · Title: colon -->\nDo it\n\
             <!-- hint -->\nfirst\n<!-- hint -->\nsecond\n<!-- answer -->\nforty-two\n\
             <!-- teacher goals: Learning goals -->\nGoals\n<!-- exercise f: Ex 2 -->\nOpen\n",
        );
        assert_eq!(t.keys(), ["a", "e", "goals", "f"]);
        assert_eq!(t.unanswered(), ["f"]);
        let Cell::Exercise {
            title,
            hints_html,
            answer_html,
            ..
        } = t.exercise("e")
        else {
            panic!("not an exercise")
        };
        assert_eq!(title, "Ex 1 · Title: colon");
        assert_eq!(hints_html.len(), 2);
        assert!(hints_html[1].contains("second") && !hints_html[1].contains("forty"));
        assert!(answer_html.is_some_and(|a| a.contains("forty-two")));
        let Cell::Teacher { title, html } = t.teacher("goals") else {
            panic!("not a teacher's block")
        };
        assert_eq!(title, "Learning goals");
        assert!(html.contains("Goals") && !html.contains("Open"), "{html}");
        let Cell::Prose { html } = t.prose("a") else {
            panic!("not prose")
        };
        assert!(html.contains("Some"), "{html}");
    }
}
