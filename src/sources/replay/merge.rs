//! A replay merging several files by timestamp, with at most
//! [`MAX_OPEN`] of them open at once.
//!
//! A k-way merge needs each file's next timed event (its head). Files are
//! opened in name order to find their first heads, as before; when
//! opening one more would pass the bound, the file used longest ago is
//! closed, keeping its head and its position, and opened again there when
//! its head is taken. Reads and their results are the same whether a file
//! stayed open or not, so the merged order is too. Files that follow each
//! other in time (rotated logs) cost no reopening beyond the first
//! heads; many files overlapping in time are reopened as the merge moves
//! between them, which is slower but still bounded in open files.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use anyhow::Context as _;

use super::input::{Input, Item, Opener, Taken};
use super::{Nanos, Pacer};

/// Most files a merged replay holds open: its buffers (256 KiB each) and
/// its share of `ulimit -n` stay small whatever the number of files.
pub const MAX_OPEN: usize = 16;

/// The inputs of a merge, at most [`MAX_OPEN`] of them with an open file.
struct Files<'o, 'a> {
    opener: &'o Opener<'a>,
    /// `None` until a file is opened the first time.
    inputs: Vec<Option<Input>>,
    /// When each input was last read (a counter), to close the oldest.
    used: Vec<u64>,
    clock: u64,
}

impl Files<'_, '_> {
    /// Input `i`, opened (the first time, or again) when reading on needs
    /// its file, closing the least recently used other one at the bound.
    fn get(&mut self, i: usize, pacer: &Pacer) -> anyhow::Result<&mut Input> {
        let needs_file = self.inputs[i].as_ref().is_none_or(Input::needs_file);
        if needs_file {
            let open = self.inputs.iter().flatten().filter(|f| f.is_open()).count();
            if open >= MAX_OPEN {
                let oldest = (0..self.inputs.len())
                    .filter(|&j| j != i && self.inputs[j].as_ref().is_some_and(Input::is_open))
                    .min_by_key(|&j| self.used[j])
                    .context("some other file is open")?;
                if let Some(f) = self.inputs[oldest].as_mut() {
                    f.close();
                }
            }
            match self.inputs[i].as_mut() {
                Some(input) => input.reopen(self.opener.files)?,
                None => {
                    let path = &self.opener.files.files[i];
                    self.inputs[i] = Some(self.opener.open(path, pacer.ctx)?);
                }
            }
        }
        self.clock += 1;
        self.used[i] = self.clock;
        self.inputs[i].as_mut().context("opened just above")
    }

    /// The next timed event of input `i`, passing the error events before
    /// it to `pacer`.
    fn next_timed(
        &mut self,
        i: usize,
        pacer: &mut Pacer,
    ) -> anyhow::Result<Option<(Nanos, Taken)>> {
        loop {
            let input = self.get(i, pacer)?;
            let Some(taken) = input.next(pacer.replay, pacer.ctx)? else {
                return Ok(None);
            };
            if let Item::Timed(t, _) = &taken.item {
                return Ok(Some((*t, taken)));
            }
            pacer.push(taken);
            if pacer.halted() {
                return Ok(None);
            }
        }
    }
}

/// All files at once, always taking the earliest next timed event; errors
/// met on the way go out at once (they have no time to wait for).
pub(super) fn merged(opener: &Opener<'_>, pacer: &mut Pacer) -> anyhow::Result<()> {
    let n = opener.files.files.len();
    let mut files = Files {
        opener,
        inputs: (0..n).map(|_| None).collect(),
        used: vec![0; n],
        clock: 0,
    };
    // (time, input index) of each input's next timed event, earliest first;
    // the index breaks ties in name order.
    let mut heads = BinaryHeap::new();
    let mut held: Vec<Option<Taken>> = (0..n).map(|_| None).collect();
    for (i, slot) in held.iter_mut().enumerate() {
        if pacer.halted() {
            return Ok(());
        }
        if let Some((t, taken)) = files.next_timed(i, pacer)? {
            *slot = Some(taken);
            heads.push(Reverse((t, i)));
        }
    }
    while let Some(Reverse((_, i))) = heads.pop() {
        if pacer.halted() {
            break;
        }
        pacer.push(held[i].take().context("every head holds its event")?);
        if let Some((t, taken)) = files.next_timed(i, pacer)? {
            held[i] = Some(taken);
            heads.push(Reverse((t, i)));
        }
    }
    Ok(())
}
