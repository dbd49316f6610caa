//! The one Graphviz DOT writer: `sluice graph CONFIG` draws the configured
//! graph with it ([`super::graph::dot`]), `sluice graph --live` the running
//! one (rates, fills, the bottleneck in red). Callers say what each node
//! and edge shows; the writer owns shapes, quoting and layout.

use std::fmt::Write;

/// One stage to draw.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// The stage's name (the node's id and first label line).
    pub name: String,
    /// `source`, `transform` or `sink`: the shape.
    pub role: String,
    /// The stage's `type`.
    pub kind: String,
    /// More label lines, after `ROLE TYPE`.
    pub lines: Vec<String>,
    /// Extra attributes, e.g. `color=red`.
    pub attrs: Vec<String>,
}

/// One edge to draw.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// The producing stage.
    pub from: String,
    /// The consuming stage.
    pub to: String,
    /// Label lines.
    pub lines: Vec<String>,
    /// Extra attributes, e.g. `style=dashed`.
    pub attrs: Vec<String>,
}

/// The graph in DOT, left to right.
pub fn write(nodes: &[Node], edges: &[Edge]) -> String {
    write_titled(None, nodes, edges)
}

/// [`write`] with a title drawn above the graph.
pub fn write_titled(title: Option<&str>, nodes: &[Node], edges: &[Edge]) -> String {
    let mut out =
        String::from("digraph sluice {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
    if let Some(t) = title {
        let _ = writeln!(
            out,
            "  labelloc=t;\n  fontname=\"monospace\";\n  label=\"{}\";\n  edge [fontname=\"monospace\"];",
            escape(t)
        );
    }
    for n in nodes {
        let shape = match n.role.as_str() {
            "source" => "invhouse",
            "sink" => "house",
            _ => "box",
        };
        let mut label = format!("{}\\n{} {}", escape(&n.name), n.role, escape(&n.kind));
        for l in &n.lines {
            label.push_str("\\n");
            label.push_str(&escape(l));
        }
        let _ = writeln!(
            out,
            "  \"{}\" [shape={shape}, label=\"{label}\"{}];",
            escape(&n.name),
            attrs(&n.attrs)
        );
    }
    for e in edges {
        let label: Vec<String> = e.lines.iter().map(|l| escape(l)).collect();
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"{}];",
            escape(&e.from),
            escape(&e.to),
            label.join("\\n"),
            attrs(&e.attrs)
        );
    }
    out.push_str("}\n");
    out
}

fn attrs(list: &[String]) -> String {
    list.iter().map(|a| format!(", {a}")).collect()
}

/// Escapes a DOT string's quotes and backslashes.
pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_edges_carry_their_lines_and_attributes() {
        let dot = write(
            &[Node {
                name: "a\"b".into(),
                role: "sink".into(),
                kind: "file".into(),
                lines: vec!["ordered".into()],
                attrs: vec!["color=red".into()],
            }],
            &[Edge {
                from: "x".into(),
                to: "a\"b".into(),
                lines: vec!["errors".into(), "capacity=8".into()],
                attrs: vec!["style=dashed".into()],
            }],
        );
        assert!(dot.contains(
            "  \"a\\\"b\" [shape=house, label=\"a\\\"b\\nsink file\\nordered\", color=red];\n"
        ));
        assert!(
            dot.contains("  \"x\" -> \"a\\\"b\" [label=\"errors\\ncapacity=8\", style=dashed];\n")
        );
    }
}
