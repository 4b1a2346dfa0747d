//! Which tools a server offers: the one table of tool names → toolset names, and the selection
//! `--tools` / `VIRTUALSMS_TOOLS` and `--exclude-tools` / `VIRTUALSMS_EXCLUDE_TOOLS` make from
//! it (comma lists of tool or toolset names). The `--help` text and the README's table are
//! rendered from [`TOOLSETS`]; a test checks that every tool the server has is in it.
//!
//! The selection only narrows: read-only mode and a missing wallet still remove tools after it.

use std::collections::BTreeSet;
use std::fmt;

/// Every tool, grouped into toolsets. A tool is in exactly one toolset.
pub const TOOLSETS: &[(&str, &[&str])] = &[
    (
        "discovery",
        &[
            "list_services",
            "list_countries",
            "find_cheapest",
            "country_pricing",
            "service_availability",
        ],
    ),
    (
        "account",
        &[
            "get_balance",
            "get_profile",
            "get_stats",
            "list_transactions",
        ],
    ),
    (
        "orders",
        &[
            "create_order",
            "get_order",
            "list_orders",
            "wait_for_sms",
            "swap_order",
            "cancel_order",
            "confirm_order",
        ],
    ),
    ("rentals", &["extend_rental", "release_rental"]),
    ("wallet", &["topup_balance"]),
];

/// Every tool name in [`TOOLSETS`], in table order.
pub fn all_tools() -> impl Iterator<Item = &'static str> {
    TOOLSETS.iter().flat_map(|(_, tools)| tools.iter().copied())
}

/// The toolset `tool` belongs to.
pub fn toolset_of(tool: &str) -> Option<&'static str> {
    TOOLSETS
        .iter()
        .find(|(_, tools)| tools.contains(&tool))
        .map(|(set, _)| *set)
}

/// A name in a `--tools` / `--exclude-tools` list that is neither a tool nor a toolset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown tool or toolset {:?}. Valid names: {}",
            self.0,
            valid_names()
        )
    }
}

impl std::error::Error for UnknownName {}

/// `toolsets: discovery, account, …; tools: list_services, …` — what an error lists.
pub fn valid_names() -> String {
    let sets: Vec<&str> = TOOLSETS.iter().map(|(s, _)| *s).collect();
    let tools: Vec<&str> = all_tools().collect();
    format!("toolsets {}; tools {}", sets.join(", "), tools.join(", "))
}

/// Expands a comma list of tool and toolset names (case-insensitive, blanks ignored) into tool
/// names. An unknown name is an error that lists the valid ones.
pub fn parse_list(list: &str) -> Result<BTreeSet<&'static str>, UnknownName> {
    let mut tools = BTreeSet::new();
    for raw in list.split(',') {
        let name = raw.trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if let Some((_, set)) = TOOLSETS.iter().find(|(s, _)| *s == name) {
            tools.extend(set.iter().copied());
        } else if let Some(tool) = all_tools().find(|t| *t == name) {
            tools.insert(tool);
        } else {
            return Err(UnknownName(raw.trim().to_owned()));
        }
    }
    Ok(tools)
}

/// The tools a configuration keeps: those in `include` (all when `None`) minus `exclude`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolSelection {
    pub include: Option<BTreeSet<&'static str>>,
    pub exclude: BTreeSet<&'static str>,
}

impl ToolSelection {
    /// From the two comma lists (`None`: not given).
    pub fn parse(include: Option<&str>, exclude: Option<&str>) -> Result<Self, UnknownName> {
        Ok(Self {
            include: include.map(parse_list).transpose()?,
            exclude: exclude.map(parse_list).transpose()?.unwrap_or_default(),
        })
    }

    /// True when this selection keeps every tool.
    pub fn is_everything(&self) -> bool {
        self.include.is_none() && self.exclude.is_empty()
    }

    pub fn keeps(&self, tool: &str) -> bool {
        self.include.as_ref().is_none_or(|set| set.contains(tool)) && !self.exclude.contains(tool)
    }
}

/// The toolset table as `--help` shows it, one toolset a line.
pub fn help_text() -> String {
    let mut out = String::from("Toolsets (for --tools / --exclude-tools):\n");
    for (set, tools) in TOOLSETS {
        out.push_str(&format!("  {set:<10} {}\n", tools.join(", ")));
    }
    out
}

/// The toolset table as the README shows it (a Markdown table).
pub fn markdown_table() -> String {
    let mut out = String::from("| Toolset | Tools |\n|---|---|\n");
    for (set, tools) in TOOLSETS {
        let tools: Vec<String> = tools.iter().map(|t| format!("`{t}`")).collect();
        out.push_str(&format!("| `{set}` | {} |\n", tools.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_in_exactly_one_toolset() {
        let all: Vec<&str> = all_tools().collect();
        let unique: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(all.len(), unique.len(), "a tool is listed twice: {all:?}");
        assert_eq!(all.len(), 19);
    }

    #[test]
    fn lists_mix_tools_and_toolsets_case_insensitively() {
        let tools = parse_list(" Discovery , get_balance,,").unwrap();
        assert_eq!(tools.len(), 6);
        assert!(tools.contains("find_cheapest") && tools.contains("get_balance"));
    }

    #[test]
    fn an_unknown_name_lists_the_valid_ones() {
        let err = parse_list("discovery,orderz").unwrap_err();
        assert_eq!(err.0, "orderz");
        let text = err.to_string();
        assert!(
            text.contains("rentals") && text.contains("wait_for_sms"),
            "{text}"
        );
    }

    #[test]
    fn exclude_applies_after_include() {
        let s = ToolSelection::parse(Some("orders"), Some("cancel_order")).unwrap();
        assert!(s.keeps("create_order"));
        assert!(!s.keeps("cancel_order"));
        assert!(!s.keeps("get_balance"));
        let all = ToolSelection::parse(None, None).unwrap();
        assert!(all.is_everything() && all.keeps("topup_balance"));
    }
}
