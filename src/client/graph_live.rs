//! `sluice graph --live [--address HOST:PORT]`: the running graph in DOT,
//! drawn by the same writer as `sluice graph CONFIG`
//! ([`crate::config::dot`]), with each edge labelled by its events/s and
//! fill (thicker the fuller), each stage by its rates and busy share, and
//! the bottleneck stage drawn `color=red` with its reason, so
//! `sluice graph --live | dot -Tsvg > now.svg` is a picture of where the
//! pressure is.

use crate::config::dot::{Edge, Node, write_titled};
use crate::stats::FULL_EDGE;
use crate::stats::view::GraphView;

use super::{ApiArgs, Client, runtime};

/// Runs `sluice graph --live`; returns the exit status.
pub fn main(args: &ApiArgs) -> u8 {
    let fetched = runtime().and_then(|rt| {
        rt.block_on(async {
            let client = Client::new(args)?;
            client.graph().await
        })
    });
    match fetched {
        Ok(view) => {
            print!("{}", dot(&view));
            0
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// The DOT of `view`.
pub fn dot(view: &GraphView) -> String {
    let bottleneck = view.bottleneck.as_ref().map(|b| b.stage.as_str());
    let nodes: Vec<Node> = view
        .stages
        .iter()
        .map(|s| {
            let mut lines = Vec::new();
            if s.role == "transform" {
                lines.push(format!("workers={}", s.workers));
            }
            if s.ordered {
                lines.push("ordered".to_string());
            }
            lines.push(match s.role.as_str() {
                "source" => format!("out {}/s", rate(s.rate_out)),
                "sink" => format!("in {}/s", rate(s.rate_in)),
                _ => format!("in {}/s  out {}/s", rate(s.rate_in), rate(s.rate_out)),
            });
            if s.rate_errors > 0.0 {
                lines.push(format!("errors {}/s", rate(s.rate_errors)));
            }
            if let Some(busy) = s.busy {
                lines.push(format!("busy {:.0}%", busy * 100.0));
            }
            let mut attrs = Vec::new();
            if Some(s.name.as_str()) == bottleneck {
                if let Some(b) = &view.bottleneck {
                    lines.push(format!("bottleneck: {}", b.reason));
                }
                attrs.extend(
                    ["color=red", "fontcolor=red", "penwidth=3"]
                        .iter()
                        .map(|a| a.to_string()),
                );
            }
            Node {
                name: s.name.clone(),
                role: s.role.clone(),
                kind: s.kind.clone(),
                lines,
                attrs,
            }
        })
        .collect();
    let edges: Vec<Edge> = view
        .edges
        .iter()
        .map(|e| {
            let mut lines = Vec::new();
            if !e.port.is_empty() {
                lines.push(e.port.clone());
            }
            lines.push(format!("{} ev/s", rate(e.rate)));
            lines.push(format!(
                "fill {:.0}% of {}",
                e.fill.clamp(0.0, 1.0) * 100.0,
                e.capacity
            ));
            let mut attrs = vec![format!(
                "penwidth={:.1}",
                1.0 + 3.0 * e.fill.clamp(0.0, 1.0)
            )];
            if e.fill >= FULL_EDGE {
                attrs.push("color=orange".to_string());
            }
            if e.port == "errors" {
                attrs.push("style=dashed".to_string());
            }
            Edge {
                from: e.from.clone(),
                to: e.to.clone(),
                lines,
                attrs,
            }
        })
        .collect();
    let title = match &view.bottleneck {
        Some(b) => format!(
            "sluice, live over {:.1}s: bottleneck {} ({})",
            view.window_s, b.stage, b.reason
        ),
        None => format!(
            "sluice, live over {:.1}s: no bottleneck (the sources set the pace)",
            view.window_s
        ),
    };
    write_titled(Some(&title), &nodes, &edges)
}

/// `950`, `12.3k`, `4.5M`.
fn rate(x: f64) -> String {
    match x {
        x if x >= 1e6 => format!("{:.1}M", x / 1e6),
        x if x >= 1e4 => format!("{:.0}k", x / 1e3),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x if x >= 10.0 || x == 0.0 => format!("{x:.0}"),
        x => format!("{x:.1}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_short() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(2.5), "2.5");
        assert_eq!(rate(950.4), "950");
        assert_eq!(rate(12_345.0), "12k");
        assert_eq!(rate(1_234.0), "1.2k");
        assert_eq!(rate(4_500_000.0), "4.5M");
    }
}
