//! The stage graph: which output feeds which input, checked before anything
//! starts (unknown inputs, missing ports, cycles), and drawn as Graphviz DOT.

use std::collections::HashMap;

use crate::config::diagnostic::{Diagnostics, did_you_mean};
use crate::config::dot::{Edge as DotEdge, Node};
use crate::config::{Config, Role, StageConfig};

/// One edge of the graph: output `port` of stage `from` feeds input `lane` of
/// stage `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Index of the producing stage.
    pub from: usize,
    /// Index of the port on the producer; the last port is `errors`.
    pub port: usize,
    /// Index of the consuming stage.
    pub to: usize,
    /// Position of this input in the consumer's `inputs`.
    pub lane: usize,
}

/// Port index of `port` on `stage` (`None`: the main output).
pub fn port_index(stage: &StageConfig, port: Option<&str>) -> Option<usize> {
    let ports = stage.output_ports();
    match port {
        Some("errors") => Some(ports.len()),
        Some(p) => ports.iter().position(|q| q == p),
        None => ports.iter().position(|q| q.is_empty()),
    }
}

/// Every edge of a validated configuration.
pub fn edges(stages: &[StageConfig]) -> Vec<Edge> {
    let index: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for (to, stage) in stages.iter().enumerate() {
        for (lane, input) in stage.inputs.iter().enumerate() {
            if let Some(&from) = index.get(input.stage.as_str())
                && let Some(port) = port_index(&stages[from], input.port.as_deref())
            {
                out.push(Edge {
                    from,
                    port,
                    to,
                    lane,
                });
            }
        }
    }
    out
}

/// Checks names, inputs and cycles, adding a diagnostic for each problem.
pub fn validate(stages: &[StageConfig], broken: &[String], diags: &mut Diagnostics<'_>) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in stages.iter().enumerate() {
        if let Some(&first) = index.get(s.name.as_str()) {
            diags.push(
                s.span.clone(),
                format!(
                    "stage name `{}` is used twice ({}.{0} and {}.{0}); stage names must be unique",
                    s.name,
                    stages[first].role.section(),
                    s.role.section()
                ),
            );
        } else {
            index.insert(&s.name, i);
        }
    }
    for stage in stages {
        match stage.role {
            Role::Source => {}
            Role::Transform | Role::Sink if stage.inputs.is_empty() => diags.push(
                stage.span.clone(),
                format!(
                    "{} `{}` has no inputs: add e.g. inputs = [\"{}\"]",
                    stage.role.as_str(),
                    stage.name,
                    stages
                        .iter()
                        .find(|s| s.role != Role::Sink)
                        .map_or("SOURCE", |s| s.name.as_str())
                ),
            ),
            _ => {}
        }
        let mut seen = Vec::new();
        for input in &stage.inputs {
            if seen.contains(&input.to_string()) {
                diags.push(
                    input.span.clone(),
                    format!("input `{input}` is listed twice"),
                );
                continue;
            }
            seen.push(input.to_string());
            let Some(&from) = index.get(input.stage.as_str()) else {
                if broken.contains(&input.stage) {
                    continue;
                }
                let names = stages.iter().map(|s| s.name.as_str());
                let hint =
                    did_you_mean(&input.stage, names.chain(broken.iter().map(String::as_str)))
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                diags.push(
                    input.span.clone(),
                    format!(
                        "{} `{}` reads from unknown stage `{}`{hint}",
                        stage.role.as_str(),
                        stage.name,
                        input.stage
                    ),
                );
                continue;
            };
            let producer = &stages[from];
            if producer.role == Role::Sink && input.port.as_deref() != Some("errors") {
                diags.push(
                    input.span.clone(),
                    format!(
                        "`{}` is a sink and has no output to read (only `{}.errors`)",
                        producer.name, producer.name
                    ),
                );
                continue;
            }
            if port_index(producer, input.port.as_deref()).is_none() {
                let ports: Vec<String> = producer
                    .output_ports()
                    .into_iter()
                    .map(|p| {
                        if p.is_empty() {
                            producer.name.clone()
                        } else {
                            format!("{}.{p}", producer.name)
                        }
                    })
                    .chain([format!("{}.errors", producer.name)])
                    .collect();
                diags.push(
                    input.span.clone(),
                    format!(
                        "`{}` has no output `{input}`; it has {}",
                        producer.name,
                        ports.join(", ")
                    ),
                );
            }
        }
    }
    if let Some(cycle) = find_cycle(stages, &index) {
        let names: Vec<&str> = cycle.iter().map(|&i| stages[i].name.as_str()).collect();
        diags.push(
            stages[cycle[0]].span.clone(),
            format!("cycle in the stage graph: [ {} ]; a stage cannot read its own output, directly or not", names.join(" -> ")),
        );
    }
}

/// A cycle as a list of stage indices, first repeated at the end.
fn find_cycle(stages: &[StageConfig], index: &HashMap<&str, usize>) -> Option<Vec<usize>> {
    // Adjacency from producer to consumer.
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); stages.len()];
    for (to, s) in stages.iter().enumerate() {
        for input in &s.inputs {
            if let Some(&from) = index.get(input.stage.as_str()) {
                next[from].push(to);
            }
        }
    }
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; stages.len()];
    let mut path = Vec::new();
    fn visit(
        n: usize,
        next: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[n] = 1;
        path.push(n);
        for &m in &next[n] {
            if state[m] == 1 {
                let start = path.iter().position(|&p| p == m).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(m);
                return Some(cycle);
            }
            if state[m] == 0
                && let Some(c) = visit(m, next, state, path)
            {
                return Some(c);
            }
        }
        path.pop();
        state[n] = 2;
        None
    }
    (0..stages.len()).find_map(|n| {
        if state[n] == 0 {
            visit(n, &next, &mut state, &mut path)
        } else {
            None
        }
    })
}

/// The graph in Graphviz DOT: stage kinds, worker counts, edge capacities
/// (drawn by [`super::dot`]).
pub fn dot(config: &Config) -> String {
    let stages = &config.stages;
    let nodes: Vec<Node> = stages
        .iter()
        .map(|s| {
            let mut lines = Vec::new();
            if s.role == Role::Transform {
                lines.push(format!("workers={}", s.workers));
            }
            if s.ordered {
                lines.push("ordered".to_string());
            }
            Node {
                name: s.name.clone(),
                role: s.role.as_str().to_string(),
                kind: s.type_name.clone(),
                lines,
                attrs: Vec::new(),
            }
        })
        .collect();
    let edges: Vec<DotEdge> = edges(stages)
        .iter()
        .map(|e| {
            let to = &stages[e.to];
            let capacity = format!("capacity={}", to.capacity);
            let (lines, attrs) = match &to.inputs[e.lane].port {
                Some(p) if p == "errors" => (
                    vec!["errors".to_string(), capacity],
                    vec!["style=dashed".to_string(), "color=red".to_string()],
                ),
                Some(p) => (vec![p.clone(), capacity], Vec::new()),
                None => (vec![capacity], Vec::new()),
            };
            DotEdge {
                from: stages[e.from].name.clone(),
                to: to.name.clone(),
                lines,
                attrs,
            }
        })
        .collect();
    super::dot::write(&nodes, &edges)
}

/// Number of edges, for `check`'s summary.
pub fn edge_count(config: &Config) -> usize {
    edges(&config.stages).len()
}
